"""The one place the version is written: pyproject.toml reads it (setuptools `attr:`), `evs --version`
prints it and every log record carries it."""

__version__ = "0.2.0"
