"""The `evs` application object and what every command shares: exit codes, one-line errors, tables."""

from __future__ import annotations

import os
import sys
import warnings

import typer
from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: another live run holds some videos; try again later


def setup_process() -> None:
    """What the `evs` process sets up for itself before it parses its command line (never done on import:
    a program that imports evs_cli keeps its own warnings, environment and typer)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # library chatter would drown our one-line errors
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Deprecation notes and advice from the libraries are for their developers, not for our users' terminals
    # and cron mail; what a user must act on reaches them as an `evs: error:` line.
    warnings.filterwarnings("ignore", module=r"(huggingface_hub|diffusers|transformers|accelerate|torch)(\.|$)")
    _help_without_python_types()


def _help_without_python_types() -> None:
    """typer's help prints a Python type beside a parameter whose metavar it does not use (`<list[str]>`
    beside an argument, `<bool>` beside a flag such as -h). Our arguments have metavars that read as words
    and flags take no value, so that column stays empty for them. (Guarded: another typer keeps its own.)"""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:
        return
    for cls, blank in ((TyperArgument, lambda p: p.metavar is not None),
                       (TyperOption, lambda p: getattr(p, "is_flag", False) and not getattr(p, "metavar", None))):
        original = getattr(cls, "display_type_rich", None)
        if original is None or getattr(original, "_evs", False):
            continue

        def display_type_rich(self, ctx, original=original, blank=blank):
            return None if blank(self) else original(self, ctx)

        display_type_rich._evs = True
        cls.display_type_rich = display_type_rich
    if hasattr(TyperArgument, "_usage_display_name"):  # usage: VIDEO... as Unix tools write it, not {VIDEO}...
        def usage_name(self):
            name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
            return name + ("..." if self.nargs != 1 else "")

        TyperArgument._usage_display_name = usage_name


app = typer.Typer(
    add_completion=True, no_args_is_help=True, rich_markup_mode="rich", pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Refine AI-generated videos with a T2I and a T2V diffusion model (EVS, Su et al.).\n\n"
         "Exit codes: 0 all refined or skipped, 1 some video failed, 2 usage or setup error, 75 another live run holds "
         "some videos (rerun later, or --wait), 130 interrupted (Ctrl-C or SIGTERM).",
)


def help_as_paragraphs(typer_app: typer.Typer) -> None:
    """Each command's help from its docstring with the lines of each paragraph joined: typer's rich help keeps
    the line breaks of every paragraph after the first, so a docstring wrapped at 120 columns printed as
    half-empty lines on a terminal of 80. (A command given help= keeps its own.)"""
    import inspect
    import re

    for command in typer_app.registered_commands:
        doc = inspect.getdoc(command.callback) if command.help is None and command.callback else None
        if doc:
            command.help = "\n\n".join(re.sub(r"\s*\n\s*", " ", p.strip()) for p in re.split(r"\n\s*\n", doc))


def _print_version(value: bool) -> None:
    if value:
        from ..version import __version__

        print(f"evs {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")) -> None:
    pass


presets_app = typer.Typer(help="List the shipped presets (the default) and print one, resolved.")
app.add_typer(presets_app, name="presets")


def console() -> Console:
    """Tables for stdout; wide when piped so that nothing a script may grep for is cut."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def fail(msg, code: int = EXIT_USAGE):
    """`evs: error:` and `msg` (an error's text, or an EvsErrors: one line each) on stderr; exit `code`."""
    from ..errors import EvsErrors, one_line

    for line in msg.lines if isinstance(msg, EvsErrors) else [str(msg)]:
        print(f"evs: error: {one_line(line)}", file=sys.stderr)
    raise typer.Exit(code)


def stderr_lines(quiet: bool, prefix: str = ""):
    """What a command says besides its results: `evs: <prefix><line>`, one line each, on stderr; nothing under
    --quiet."""
    from ..errors import one_line

    if quiet:
        return lambda line: None
    return lambda line: print(f"evs: {prefix}{one_line(line)}", file=sys.stderr)


def resolve_preset(preset: str, sets: list[str], t2i, t2v, tokenizer, dtype, resize, compile_blocks=False,
                   vae=None, loras=()):
    from ..engine.preset import load_preset, parse_override

    overrides = [parse_override(s) for s in sets]
    models = {k: v for k, v in (("t2i", t2i), ("t2v", t2v), ("tokenizer", tokenizer), ("vae", vae)) if v is not None}
    dtype = getattr(dtype, "value", dtype)  # --dtype's Enum, as the plain name a preset holds
    runtime = {k: v for k, v in (("dtype", dtype), ("resize", resize), ("compile", compile_blocks or None)) if v is not None}
    if models:
        overrides.append({"models": models})
    if runtime:
        overrides.append({"runtime": runtime})
    p = load_preset(preset).with_overrides(overrides)
    if loras:  # --lora adds to the preset's own T2I LoRAs
        p = p.with_overrides([{"t2i": {"loras": [*p.data["t2i"]["loras"], *loras]}}])
    return p
