"""`evs compare`: contact sheet, per-frame error plot and side-by-side video of several videos."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import EvsError
from .app import EXIT_FAILED, app, fail, stderr_lines


@app.command("compare", no_args_is_help=True, epilog=(
    "Examples:\n\n"
    "  evs compare in.mp4 out_t2i.mp4 out_evs.mp4 --png sheet.png --plot curves.png --mp4 side.mp4\n\n"
    "  evs compare inputs/ refined/ --html page.html --scores refined.json   (folders matched by relative path)"))
def compare_cmd(
    videos: List[Path] = typer.Argument(..., metavar='VIDEO|FOLDER', help="Two or more videos (rows top to bottom), "
                                        "or two or more folders, matched by each video's path below its folder."),
    html: Optional[Path] = typer.Option(None, "--html", metavar='FILE', help="A page that plays every version of "
                                        "each video side by side and in sync (and as a wipe between two), with its "
                                        "prompt and measures; it links to the MP4s by relative paths."),
    scores: List[Path] = typer.Option([], "--scores", metavar='FILE', help="Measures shown on the --html page: "
                                      "`evs eval --json` files of any of the versions (repeatable)."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", metavar='FILE', help="Prompts shown on the --html "
                                           "page, as refine reads them (default: sidecars and VBench names)."),
    png: Optional[Path] = typer.Option(None, "--png", metavar='FILE', help="Contact sheet: a row of sampled frames per "
                                       "video plus an enlarged centre crop (PNG)."),
    mp4: Optional[Path] = typer.Option(None, "--mp4", metavar='FILE', help="Side-by-side video with labels."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar='FILE', help="Per-frame warping error of each video (PNG)."),
    labels: Optional[str] = typer.Option(None, "--labels", metavar='LABELS', help="Comma-separated labels, one per "
                                         "video or folder (default: the names, with as many parent folders as "
                                         "tell them apart)."),
    frames: int = typer.Option(6, "--frames", metavar='N', min=1, help="Frames sampled per row."),
    zoom: int = typer.Option(2, "--zoom", metavar='FACTOR', min=1, max=8, help="Enlargement of the crop."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
):
    """Show what refinement did: versions of a video side by side, to look at and to watch.

    --png, --plot and --mp4 take videos, --html videos or folders; each is written whole, or not at all."""
    if not (png or mp4 or plot or html):
        fail("nothing to write: give --html, --png, --plot or --mp4 (or several)")
    if len(videos) < 2:
        fail(f"compare needs two or more videos or folders, got {len(videos)}")
    folders = _kind_of(videos)
    if folders and (png or mp4 or plot):
        fail(f"{folders[0]}: is a folder; --png, --plot and --mp4 take videos (use --html for folders)")
    if (scores or prompts) and not html:
        fail(f"{'--scores' if scores else '--prompts'} is shown only on the --html page: give --html FILE too")
    from ..eval.compare import distinct_labels

    names = labels.split(",") if labels else distinct_labels(videos, strip_suffix=not folders)
    if len(names) != len(videos):
        fail(f"--labels has {len(names)} labels for {len(videos)} {'folders' if folders else 'videos'}")
    for out in (png, plot, mp4, html):
        if out is not None:
            _check_destination(out)
    said = stderr_lines(quiet)
    if html:
        _write_page(videos, names, html, scores, prompts, said)
    if png or plot or mp4:
        _write_pictures(videos, names, png, plot, mp4, frames, zoom, said)


def _kind_of(paths: list[Path]) -> list[Path]:
    """The folders among `paths`, which must be all videos or all folders, and exist."""
    for p in paths:
        if not p.exists():
            fail(f"{p}: no such file or folder")
    folders = [p for p in paths if p.is_dir()]
    if folders and len(folders) != len(paths):
        file = next(p for p in paths if not p.is_dir())
        fail(f"give videos or folders, not both: {folders[0]} is a folder, {file} a file")
    return folders


def _write_page(versions: list[Path], names: list[str], page: Path, score_files: list[Path], prompts: Path | None,
                said) -> None:
    from ..eval.page import add_prompts, add_scores, load_scores, match_versions, render
    from ..io.prompts import load_prompt_table

    try:
        rows = match_versions(versions)
        add_prompts(rows, load_prompt_table(prompts) if prompts else None)
        measured = add_scores(rows, load_scores(score_files))
    except EvsError as e:
        fail(e)
    if score_files and not measured:
        print(f"evs: warning: none of the videos on the page is in {', '.join(map(str, score_files))}", file=sys.stderr)
    text = render(rows, names, page, "evs compare: " + " | ".join(names))
    _write_whole(page, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    missing = sum(v is None for r in rows for v in r.videos)
    said(f"wrote {page}: {len(rows)} video{'s' * (len(rows) != 1)} in {len(versions)} versions"
         + (f", {missing} missing from some version" if missing else "") + (f", {measured} with measures" if measured else ""))


def _write_pictures(videos: list[Path], names: list[str], png, plot, mp4, frames: int, zoom: int, said) -> None:
    from ..eval.compare import contact_sheet, error_plot, load, per_frame_errors, side_by_side

    try:
        vids, fps = load(videos)
    except EvsError as e:
        fail(e)
    if png:
        _save_image(contact_sheet(vids, names, frames, zoom), png)
        said(f"wrote {png}: contact sheet of {len(vids)} videos")
    if plot:
        _save_image(error_plot(per_frame_errors(vids, names)), plot)
        said(f"wrote {plot}: per-frame warping error of {len(vids)} videos")
    if mp4:
        _write_whole(mp4, lambda tmp: side_by_side(vids, names, tmp, fps))
        said(f"wrote {mp4}: {len(vids)} videos side by side")


def _check_destination(out: Path) -> None:
    """A file to write: its folder must exist (compare makes no folders) and be writable."""
    from ..batch.planning.outputs import unwritable

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
    from ..batch.planning.outputs import write_whole

    try:
        write_whole(out, write)
    except OSError as e:
        fail(f"{out}: cannot write ({e.strerror})", EXIT_FAILED)
    except EvsError as e:
        fail(str(e), EXIT_FAILED)


def _save_image(image, out: Path) -> None:
    _write_whole(out, lambda tmp: image.save(tmp, format="PNG"))
