"""`evs compare`: contact sheet, per-frame error plot and side-by-side video of several videos."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import EvsError
from .app import EXIT_FAILED, app, fail


@app.command("compare", no_args_is_help=True, epilog="Example:\n\n  evs compare in.mp4 out_t2i.mp4 out_evs.mp4 "
             "--png sheet.png --plot curves.png --mp4 side.mp4")
def compare_cmd(
    videos: List[Path] = typer.Argument(..., metavar='VIDEO', help="Two or more videos, shown top to bottom."),
    png: Optional[Path] = typer.Option(None, "--png", metavar='FILE', help="Contact sheet: a row of sampled frames per "
                                       "video plus an enlarged centre crop (PNG)."),
    mp4: Optional[Path] = typer.Option(None, "--mp4", metavar='FILE', help="Side-by-side video with labels."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar='FILE', help="Per-frame warping error of each video (PNG)."),
    labels: Optional[str] = typer.Option(None, "--labels", metavar='LABELS', help="Comma-separated row labels (default: "
                                         "the file names, with as many parent folders as tell them apart)."),
    frames: int = typer.Option(6, "--frames", metavar='N', min=1, help="Frames sampled per row."),
    zoom: int = typer.Option(2, "--zoom", metavar='FACTOR', min=1, max=8, help="Enlargement of the crop."),
):
    """Show what refinement did: videos as labelled rows, detail and flicker side by side.

    Writes any of --png, --plot and --mp4 (at least one); each file appears whole or not at all."""
    from ..eval.compare import (
        contact_sheet,
        distinct_labels,
        error_plot,
        load,
        per_frame_errors,
        side_by_side,
    )

    if not (png or mp4 or plot):
        fail("nothing to write: give --png, --plot or --mp4 (or several)")
    if len(videos) < 2:
        fail(f"compare needs two or more videos, got {len(videos)}")
    names = labels.split(",") if labels else distinct_labels(videos)
    if len(names) != len(videos):
        fail(f"--labels has {len(names)} labels for {len(videos)} videos")
    for out in (png, plot, mp4):
        if out is not None:
            _check_destination(out)
    try:
        vids, fps = load(videos)
    except EvsError as e:
        fail(e)
    if png:
        _save_image(contact_sheet(vids, names, frames, zoom), png)
    if plot:
        _save_image(error_plot(per_frame_errors(vids, names)), plot)
    if mp4:
        _write_whole(mp4, lambda tmp: side_by_side(vids, names, tmp, fps))


def _check_destination(out: Path) -> None:
    """A file to write: its folder must exist (compare makes no folders) and be writable."""
    from ..batch.outputs import unwritable

    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        fail(f"{out}: is a folder (give a file name)")
    if not parent.is_dir():
        fail(f"{out}: the folder {parent} does not exist")
    why = unwritable(parent)
    if why:
        fail(f"{out}: cannot write in {parent} ({why})")


def _write_whole(out: Path, write) -> None:
    """batch.outputs.write_whole, its failures as one line."""
    from ..batch.outputs import write_whole

    try:
        write_whole(out, write)
    except OSError as e:
        fail(f"{out}: cannot write ({e.strerror})", EXIT_FAILED)
    except EvsError as e:
        fail(str(e), EXIT_FAILED)


def _save_image(image, out: Path) -> None:
    _write_whole(out, lambda tmp: image.save(tmp, format="PNG"))
