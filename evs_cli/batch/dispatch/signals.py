"""SIGINT and SIGTERM as one KeyboardInterrupt: a timeout, SLURM's preemption or systemd's stop is handled
as Ctrl-C, and the clean-up it starts is not cut short by a second signal."""

from __future__ import annotations

import signal
from contextlib import contextmanager


@contextmanager
def interrupts_as_keyboard():
    """SIGINT and SIGTERM raise KeyboardInterrupt once, inside the block (see interrupt_once)."""
    previous = {s: signal.signal(s, interrupt_once) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def interrupt_once(signum, frame):
    """Raise KeyboardInterrupt for the first SIGINT/SIGTERM and ignore the next ones, so that a second
    signal (the terminal's Ctrl-C reaches workers, and the parent forwards it) cannot cut the clean-up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt
