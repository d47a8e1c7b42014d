"""`evs eval`: measure videos with the weight-free metrics and, when their weights are local, the paper's."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import EvsError
from .app import EXIT_FAILED, EXIT_OK, app, console, fail, stderr_lines
from .options import Flow, FlowOpt


@app.command("eval", no_args_is_help=True, epilog=(
    "Examples:\n\n"
    "  evs eval refined/ --reference originals/ --json scores.json\n\n"
    "  evs eval inputs/ refined_t2i/ refined_evs/ --log refined_evs.jsonl   (one row per folder)"))
def eval_cmd(
    targets: List[str] = typer.Argument(..., metavar='TARGET', help="Videos or folders; several folders are compared side by side."),
    reference: Optional[Path] = typer.Option(None, "--reference", metavar='FOLDER', help="A video, or a folder matched by relative "
                                             "path / file name, for PSNR and SSIM."),
    json_out: Optional[Path] = typer.Option(None, "--json", metavar='FILE', help="Write per-video rows and per-folder means."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", metavar='FILE', help="Write per-video rows."),
    logs: List[Path] = typer.Option([], "--log", metavar='FILE', help="Timing logs of `evs refine` (adds mean seconds per folder)."),
    flow: FlowOpt = Flow.DIS,
    dino: Optional[str] = typer.Option(None, "--dino", metavar='WEIGHTS', help="DINO ViT-B/16 folder or cached hub id for VBench "
                                       "subject consistency (default: $EVS_DINO, else facebook/dino-vitb16 if "
                                       "cached). Skipped, with one line saying so, when absent."),
    ap_head: Optional[str] = typer.Option(None, "--ap-head", metavar='WEIGHTS', help="Aesthetic Predictor v2.5 head "
                                          "(aesthetic_predictor_v2_5.pth; default $EVS_AP_HEAD)."),
    ap_encoder: Optional[str] = typer.Option(None, "--ap-encoder", metavar='WEIGHTS', help="SigLIP so400m-patch14-384 folder or cached "
                                             "hub id (default $EVS_AP_ENCODER, else google/siglip-so400m-patch14-384)."),
    amt: Optional[str] = typer.Option(None, "--amt", metavar='WEIGHTS', help="AMT-S checkpoint (amt-s.pth) for VBench motion smoothness "
                                      "(default $EVS_AMT, else amt_model/amt-s.pth in VBench's cache, "
                                      "$VBENCH_CACHE_DIR or ~/.cache/vbench, else the Hugging Face cache of "
                                      "lalala125/AMT)."),
    dover: Optional[str] = typer.Option(None, "--dover", metavar='WEIGHTS', help="DOVER checkpoint (DOVER.pth) for the DOVER video "
                                        "quality score, 0-100 (default $EVS_DOVER)."),
    device: Optional[str] = typer.Option(None, "--device", metavar='DEVICE', help="Where the weighted metrics run (default: cuda "
                                         "if available, else cpu)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (the scores go to --json or --csv)."),
):
    """Measure videos. Without any weights: warping error and flicker (optical flow, occlusions masked),
    sharpness (variance of the Laplacian), and PSNR / SSIM against a reference. With weights present
    locally, also the paper's metrics as VBench and their authors compute them: motion_smoothness (AMT-S),
    subject_consistency (DINO), dover (DOVER, 0-100), aesthetic (Aesthetic Predictor v2.5), and overall
    (the mean of the four, normalised) when all four are there; a metric whose weights are missing is
    skipped with one line saying how to enable it.

    warp_error and flicker: lower is more consistent; everything else: higher is better."""
    from ..eval.evaluate import summarize, write_csv, write_json

    note = stderr_lines(quiet)
    try:
        rows, timing = _score(targets, reference, logs, flow.value, device, (amt, dino, ap_encoder, ap_head, dover), note)
    except EvsError as e:
        fail(e)
    summary = summarize(rows, targets, timing)
    _print_results(rows, summary, targets, bool(timing), note, quiet)
    for out, write in ((json_out, lambda: write_json(json_out, rows, summary)), (csv_out, lambda: write_csv(csv_out, rows))):
        if out:
            write()
            note(f"wrote {out}: {len(rows)} video{'s' * (len(rows) != 1)}")
    raise typer.Exit(EXIT_FAILED if any("error" in r for r in rows) else EXIT_OK)


def _score(targets: list[str], reference: Path | None, logs: list[Path], flow: str, device: str | None,
           weights: tuple, note) -> tuple[list[dict], dict]:
    """(a row per video, the timing logs' seconds per folder); EvsError for a path, log or weight at fault,
    each found before the minutes of scoring it would spoil."""
    import torch

    from ..eval.evaluate import evaluate, timing_by_group, videos_by_group, weighted_scorers
    from .progress import interruptible, progress_bar

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    found = videos_by_group(targets)  # a missing path or an empty folder fails before any weights load
    if reference is not None and not reference.exists():
        raise EvsError(f"{reference}: no such reference file or folder")
    timing = timing_by_group(targets, logs, warn=lambda m: note(f"warning: {m}"))
    with interruptible("no scores were written"), progress_bar("scoring") as update:
        scorers = weighted_scorers(dev, *weights, warn=note)
        return evaluate(found, reference, flow, scorers, progress=update), timing


def _print_results(rows: list[dict], summary: list[dict], targets: list[str], timed: bool, note, quiet: bool) -> None:
    """Errors on stderr, and with `note` the metrics a video skipped; the per-video table (one folder of several
    videos) and the per-folder means on stdout, unless quiet."""
    from ..eval.evaluate import COLUMNS

    con = console()
    for r in rows:
        if "error" in r:
            print(f"evs: error: {r['error']}", file=sys.stderr)
        for reason in r.get("skipped", {}).values():
            note(f"{r['video']}: {reason}")
    if quiet:
        return
    cols = [c for c in COLUMNS if any(c in r for r in rows)]
    if len(targets) == 1 and len(rows) > 1:
        t = Table(title="per video", title_justify="left")
        for c in ("video", *cols):
            t.add_column(c)
        for r in rows:
            if "error" not in r:
                t.add_row(r["name"], *(f"{r[c]:.4f}" if c in r else "-" for c in cols))
        con.print(t)
    t = Table(title="mean per folder" if len(targets) > 1 or len(rows) > 1 else None, title_justify="left")
    extra = ["seconds"] if timed else []
    for c in ("input", "videos", *cols, *extra):
        t.add_column(c)
    for s in summary:
        t.add_row(s["group"], str(s["videos"]), *(f"{s[c]:.4f}" if c in s else "-" for c in (*cols, *extra)))
    con.print(t)
