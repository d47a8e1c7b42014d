"""The `evs` command line: argument parsing and printing only (the top layer).

It may import every layer below (engine, io, eval, batch, toy); nothing imports it. One module per
command (`refine`, `evaluate`, `compare`, `demo`, `presets`); `app` holds the typer application and what the
commands share; `refine_run` plans or executes a refine request and maps its outcome to an exit code;
`dry_run` prints a plan; `progress` gives the other commands a progress bar and Ctrl-C handling;
`__main__` is `python -m evs_cli.cli`.
"""

from .app import app

from . import refine, evaluate, compare, demo, presets  # noqa: E402,F401  # isort: skip - registers the commands in --help's order


def main() -> None:
    from .app import setup_process

    setup_process()
    app(prog_name="evs")
