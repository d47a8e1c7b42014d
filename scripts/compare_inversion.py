"""Which level should DDIM inversion evaluate a distilled T2V at? A decision experiment on the toy world.

evs (engine.schedule.invert) follows diffusers' DDIMInverseScheduler as its pipelines drive it: the step
from level s up to level t evaluates the model at t (t = 124 for the clean latent on the Lightning grid),
never at t = 0, which an 8-step distilled model was not trained on. The alternative evaluates at the level
it steps *from* (the clean latent at t = 0, then each grid level on the way up). Both approximate the same
ODE step. This script inverts real frames (the toy sample, encoded by the toy VAE) with the toy T2V up to
tV, denoises back with nV = tV calls, with and without SFI (gamma = 1, every spatial self-attention layer:
the reconstruction upper limit), and prints the reconstruction error of each convention.

    python scripts/compare_inversion.py
"""

from __future__ import annotations

import functools
import os

os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

from evs_cli.engine.loaders.models import load_models  # noqa: E402
from evs_cli.engine.pipeline import Engine  # noqa: E402
from evs_cli.engine.preset import load_preset, parse_override  # noqa: E402
from evs_cli.engine.schedule import run_stage  # noqa: E402
from evs_cli.engine.stages import Injection, Stage  # noqa: E402
from evs_cli.io.video import read_video  # noqa: E402
from evs_cli.toy.demo import SAMPLE_DIR  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    preset = load_preset("toy").with_overrides([parse_override("t2v.guidance=1.0")])
    models = load_models(preset.t2i_model, preset.t2v_model, "cpu", torch.float32)
    engine = Engine(models, preset)
    clips = sorted(SAMPLE_DIR.glob("*.mp4")) + sorted((SAMPLE_DIR / "clean").glob("*.mp4"))
    import evs_cli.engine.schedule as schedule

    print("clip | tV | SFI | error, evaluate at target level (evs, diffusers) | error, at current level")
    for clip in clips:
        frames = read_video(clip).frames
        x0 = engine.encode(frames)
        prompt = clip.stem.rsplit("-", 1)[0]
        model = engine.denoisers(prompt)["t2v"]
        for tV in (2, 3, 4):
            for sfi in (False, True):
                inj = Injection(1.0, ("all",), ()) if sfi else None
                errors = []
                for convention in ("target", "current"):
                    original = schedule.invert
                    if convention == "current":  # run_stage looks invert up in its module at each call
                        schedule.invert = functools.partial(original, evaluate_at="current")
                    try:
                        with torch.no_grad():
                            out, _ = run_stage(x0, Stage("t2v", tV, tV, "invert", inj), model, noise=None)
                    finally:
                        schedule.invert = original
                    errors.append(((out - x0).norm() / x0.norm()).item())
                print(f"{clip.parent.name}/{clip.name[:28]} | {tV} | {'gamma 1, all' if sfi else 'none'} | "
                      f"{errors[0]:.4f} | {errors[1]:.4f}")


if __name__ == "__main__":
    main()
