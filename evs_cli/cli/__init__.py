"""The `evs` command line: argument parsing and printing only (the top layer).

It may import every layer below (engine, io, eval, batch, toy); nothing imports it. One module per
command; `app.py` holds the typer application and what the commands share.
"""

from .app import app

from . import refine, evaluate, compare, demo, presets  # noqa: E402,F401  # isort: skip - registers the commands in --help's order


def main() -> None:
    from .app import setup_process

    setup_process()
    app(prog_name="evs")
