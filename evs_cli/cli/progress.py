"""Progress and interruption for the commands that are not batch runs (eval, demo)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import Progress

from ..batch.dispatch.signals import interrupts_as_keyboard
from ..batch.report import bar_columns
from .app import EXIT_INTERRUPTED


@contextmanager
def progress_bar(description: str):
    """A callback `update(done, total, what=None)` that drives a bar with time left on stderr when stderr is
    a terminal; silent otherwise (cron mail and pipes get only the results). The bar goes when done."""
    err = Console(stderr=True, highlight=False)
    if not err.is_terminal:
        yield lambda done, total, what=None: None
        return
    with Progress(*bar_columns(), console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int, what: str | None = None) -> None:
            bar.update(task, completed=done, total=total,
                       description=f"{description}: {what}" if what else description)

        yield update


@contextmanager
def interruptible(cleanup: str = "nothing was written"):
    """Ctrl-C or SIGTERM ends the command with one line and exit 130 instead of a traceback."""
    try:
        with interrupts_as_keyboard():
            yield
    except KeyboardInterrupt:
        print(f"evs: interrupted; {cleanup}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
