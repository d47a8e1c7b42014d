"""`evs demo`: refine the bundled toy sample with the bundled toy models."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import EvsError
from .app import app, console, fail


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("evs-demo"), "--out", "-o", metavar='FOLDER', help="Folder for the results."),
    device: str = typer.Option("cpu", "--device", metavar='DEVICE', help="Torch device; the toy models are small enough for a CPU."),
    seed: int = typer.Option(0, "--seed", metavar='N', ),
):
    """Refine the bundled toy sample with the bundled toy models (no download, CPU, under a minute).

    Writes t2i.mp4, t2v.mp4, evs.mp4, compare.png (rows: input, T2I, T2V, EVS, clean source) and
    warping_error.png to --out, and prints consistency, sharpness and fidelity for each, beside two reference rows: the input
    through the VAE alone, and the clean clip."""
    from ..toy.bench import LABELS, decibels
    from ..toy.demo import run_demo
    from .progress import interruptible, progress_bar

    try:
        with interruptible("no half-written file was left"), progress_bar("toy demo") as update:
            rows, written = run_demo(out, device, seed, progress=update)
    except EvsError as e:
        fail(e)
    t = Table(title="toy sample: consistency (lower is better), sharpness (closer to the clean clip's is better), "
                    "fidelity to the clean clip (higher is better)", title_justify="left")
    for col in ("method", "warp error", "flicker", "sharpness", "gap to clean", "PSNR", "SSIM", "object PSNR", "seconds"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for c, r in rows.items():
        t.add_row(LABELS[c], f"{r['warp_error']:.4f}", f"{r['flicker']:.4f}", f"{r['sharpness']:.0f}",
                  f"{r['sharpness_gap']:.2f}", decibels(r["psnr"]), f"{r['ssim']:.3f}", decibels(r["psnr_object"]),
                  f"{r['seconds']:.2f}")
    console().print(t)
    print("wrote " + ", ".join(str(p) for p in written))
