"""The `evs` command line: argument parsing and printing only (the top layer).

It may import every layer below (engine, io, eval, batch, toy); nothing imports it. One module per
command (`refine`, `tune`, `evaluate`, `compare`, `demo`, `presets`); `app` holds the typer application and what the
commands share; `refine_run` plans or executes a refine request and maps its outcome to an exit code;
`dry_run` prints a plan; `progress` gives the other commands a progress bar and Ctrl-C handling;
`options` declares the options refine and tune share (and eval's --flow), with their panels and Enums;
`__main__` is `python -m evs_cli.cli`.
"""

from .app import app

from . import refine, tune, evaluate, compare, demo, presets  # noqa: E402,F401  # isort: skip - registers the commands in --help's order
from .app import help_as_paragraphs, presets_app  # noqa: E402  # isort: skip

help_as_paragraphs(app)
help_as_paragraphs(presets_app)


def main() -> None:
    import sys

    import typer

    try:  # typer >= 0.20 carries its own click; older ones use click itself
        from typer._click import exceptions as click_errors
    except ImportError:
        from click import exceptions as click_errors

    from ..errors import one_line
    from .app import EXIT_INTERRUPTED, setup_process

    setup_process()
    try:
        code = app(prog_name="evs", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as e:  # `evs`, `evs refine`: the help, as before
        e.show()
        code = e.exit_code
    except click_errors.ClickException as e:  # a parsing mistake: our one line, not a box drawn into cron mail
        print(f"evs: error: {one_line(e.format_message())}", file=sys.stderr)
        code = e.exit_code
    except typer.Abort:  # EOF at a prompt, or an interrupt typer saw first
        code = EXIT_INTERRUPTED
    sys.exit(code if isinstance(code, int) else 0)
