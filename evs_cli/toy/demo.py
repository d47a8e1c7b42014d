"""`evs demo`: refine the bundled degraded sample with the bundled toy models, write the results, a
comparison sheet and a flicker plot, and print the metrics."""

from __future__ import annotations

from pathlib import Path

import torch

from ..batch.planning.outputs import write_whole
from ..engine.loaders.models import load_models
from ..engine.preset import load_preset
from ..eval.compare import contact_sheet, error_plot, per_frame_errors
from ..io.prompts import resolve_prompt
from ..io.video import read_video, write_mp4
from .bench import LABELS, REFERENCES, Clip, run
from .data import object_mask, spec_for

SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_SEED = 7  # the shipped sample's clip (held out: training uses seeds >= 10000)
SHOWN = ("input", "t2i", "t2v", "evs")


def sample_paths() -> tuple[Path, Path]:
    degraded = next(p for p in sorted(SAMPLE_DIR.glob("*.mp4")))
    return degraded, SAMPLE_DIR / "clean" / degraded.name


def run_demo(out: Path, device: str = "cpu", seed: int = 0, progress=None) -> tuple[dict, list[Path]]:
    """`progress(done, total, what)` follows the refinements (see bench.run)."""
    preset = load_preset("toy")
    models = load_models(preset.t2i_model, preset.t2v_model, device, torch.float32)
    src, ref = sample_paths()
    video, clean = read_video(src), read_video(ref)
    prompt, _ = resolve_prompt(src, Path(src.name))
    clip = Clip(prompt, clean.frames.numpy(), video.frames.numpy(), object_mask(spec_for(SAMPLE_SEED)))
    # the references (the VAE round trip, the clean clip) are rows of the table, not videos to write
    rows, outputs = run(models, preset, [clip], (*SHOWN, *REFERENCES), seed=seed, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for c in SHOWN[1:]:
        dest = out / f"{c}.mp4"
        write_whole(dest, lambda tmp, c=c: write_mp4(torch.from_numpy(outputs[c]), tmp, video.fps))
        written.append(dest)
    videos = [outputs[c] for c in SHOWN] + [clip.clean]
    labels = [LABELS[c] for c in SHOWN] + ["clean source"]
    sheet = contact_sheet(videos, labels, n_frames=6, zoom=3)
    plot = error_plot(per_frame_errors(videos, labels))
    for name, image in (("compare.png", sheet), ("warping_error.png", plot)):
        write_whole(out / name, lambda tmp, image=image: image.save(tmp, format="PNG"))
        written.append(out / name)
    return rows, written
