"""Errors a user can act on. Their text is printed as one line, so keep it to one.

The lowest layer: every other layer may import it; it imports nothing of evs.
"""


class EvsError(Exception):
    """A problem with the user's input, models or settings (not a bug in evs)."""


class EvsErrors(EvsError):
    """Several problems found together (every missing model, not the first): one line each."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = list(lines)


class ConfigError(EvsError):
    """A preset or schedule parameter is invalid; raised before any model is loaded."""


def read_text(path, what: str, error: type[EvsError] = EvsError) -> str:
    """A user's text file (preset, prompts, sidecar, log), or one error line that names it: a missing or
    unreadable file and one that is not UTF-8 text are the user's to fix, never a traceback."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror or e})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path}: {what} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})") from None


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROL.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def one_line(text: str) -> str:
    """`text` with control characters escaped (a file name may hold a newline or a terminal escape): what
    evs prints about a file stays one line, and cannot move the cursor or recolour the terminal."""
    return str(text).translate(_CONTROL)


def first_line(error: BaseException | str, limit: int | None = None) -> str:
    """The first line of an exception's message (a library's traceback-sized text cut to what one line of ours
    can hold), or the exception's type when it says nothing; at most `limit` characters."""
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else type(error).__name__ if isinstance(error, BaseException) else ""
    return line[:limit] if limit else line
