"""`evs compare`: contact sheet, per-frame error plot and side-by-side video of several videos."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import EvsError
from .app import app, fail


@app.command("compare", no_args_is_help=True, epilog="Example:\n\n  evs compare in.mp4 out_t2i.mp4 out_evs.mp4 "
             "--png sheet.png --plot curves.png --mp4 side.mp4")
def compare_cmd(
    videos: List[Path] = typer.Argument(..., metavar='VIDEO', help="Two or more videos, shown top to bottom."),
    png: Path = typer.Option(..., "--png", metavar='FILE', help="Contact sheet: a row of sampled frames per video plus an "
                             "enlarged centre crop."),
    mp4: Optional[Path] = typer.Option(None, "--mp4", metavar='FILE', help="Side-by-side video with labels."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar='FILE', help="Per-frame warping error of each video."),
    labels: Optional[str] = typer.Option(None, "--labels", metavar='LABELS', help="Comma-separated row labels (default: file names)."),
    frames: int = typer.Option(6, "--frames", metavar='N', min=1, help="Frames sampled per row."),
    zoom: int = typer.Option(2, "--zoom", metavar='FACTOR', min=1, max=8, help="Enlargement of the crop."),
):
    """Show what refinement did: videos as labelled rows, detail and flicker side by side."""
    from ..eval.compare import (
        contact_sheet,
        error_plot,
        load,
        per_frame_errors,
        side_by_side,
    )

    names = labels.split(",") if labels else [v.stem for v in videos]
    if len(names) != len(videos):
        fail(f"--labels has {len(names)} labels for {len(videos)} videos")
    try:
        vids = load(videos)
        from ..io.video import read_video

        fps = read_video(videos[0]).fps
    except EvsError as e:
        fail(str(e))
    contact_sheet(vids, names, frames, zoom).save(png)
    if plot:
        error_plot(per_frame_errors(vids, names)).save(plot)
    if mp4:
        side_by_side(vids, names, mp4, fps)
