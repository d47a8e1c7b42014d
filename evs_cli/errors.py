"""Errors a user can act on. Their text is printed as one line, so keep it to one.

The lowest layer: every other layer may import it; it imports nothing of evs.
"""


class EvsError(Exception):
    """A problem with the user's input, models or settings (not a bug in evs)."""


class ConfigError(EvsError):
    """A preset or schedule parameter is invalid; raised before any model is loaded."""
