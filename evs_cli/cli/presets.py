"""`evs presets list|show`: the shipped presets."""

from __future__ import annotations

from typing import List

import typer
import yaml
from rich.table import Table

from ..errors import EvsError
from .app import console, fail, presets_app, resolve_preset


@presets_app.callback(invoke_without_command=True)
def presets_default(ctx: typer.Context):
    """`evs presets` alone lists them, as `evs presets list` does."""
    if ctx.invoked_subcommand is None:
        presets_list()


@presets_app.command("list")
def presets_list():
    """The shipped presets with what each is for."""
    from ..engine.preset import list_presets, load_preset

    t = Table(show_header=True)
    t.add_column("name")
    t.add_column("description")
    for name in list_presets():
        t.add_row(name, load_preset(name).data["description"])
    console().print(t)


@presets_app.command("show")
def presets_show(name: str = typer.Argument(..., metavar="NAME|FILE", help="Preset name or YAML path."),
                 sets: List[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                                help="Overrides to apply first, e.g. tV=4.")):
    """Print a preset as YAML, defaults filled in and overrides applied (a valid preset file itself)."""
    try:
        p = resolve_preset(name, sets, None, None, None, None, None)
    except EvsError as e:
        fail(e)
    print(yaml.safe_dump(p.data, sort_keys=False), end="")
