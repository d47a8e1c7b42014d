"""errors.py: the one-line forms every layer prints."""

from evs_cli.errors import first_line, one_line


def test_first_line_of_an_exception():
    assert first_line(RuntimeError("  CUDA out of memory.\nTried to allocate 2 GiB\n  at ...")) == "CUDA out of memory."
    assert first_line(ValueError("")) == "ValueError" and first_line(KeyError()) == "KeyError"
    assert first_line(OSError("x" * 300), 120) == "x" * 120
    assert first_line("") == "" and first_line("a\nb") == "a"


def test_one_line_escapes_what_would_break_the_line_or_the_terminal():
    assert one_line("a\nb\x1b[31m\tc") == "a\\nb\\x1b[31m\\tc"
