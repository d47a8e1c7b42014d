"""The paper's Table 2 in the toy world: input, T2I, T2V, T2I+T2V, T2V+T2I and EVS on held-out clips.

    python scripts/bench_quality.py --clips 12            # the shipped toy models, on the CPU
    python scripts/bench_quality.py --set tT2V=8 --set tV=3
    python scripts/bench_quality.py --degradation noise --references

Rows: the compositions, and with --references the clean clip itself and the input through the VAE alone
(encode + decode: what no model should get credit for).
Columns: warping error and flicker (consistency, lower is better), sharpness (variance of the Laplacian)
beside the clean clip's (closer is better: above clean is noise or invented detail, not quality), PSNR and
SSIM against the clean clip, PSNR on the moving object alone (is it kept?), seconds per clip.
"""

import argparse
import os

os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402

from evs_cli.engine.loaders.models import load_models  # noqa: E402
from evs_cli.engine.preset import load_preset, parse_override  # noqa: E402
from evs_cli.toy.bench import COMPOSITIONS, REFERENCES, held_out_clips, run, table  # noqa: E402
from evs_cli.toy.data import DEFAULT_DEGRADATION, DEGRADATIONS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="toy")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="preset override, e.g. tV=3")
    ap.add_argument("--clips", type=int, default=12, help="held-out clips (seeds 0..N-1)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--degradation", default=DEFAULT_DEGRADATION, choices=sorted(DEGRADATIONS),
                    help="the family of defects on the inputs (the toy preset was tuned on shimmer)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", nargs="*", default=list(COMPOSITIONS), help="compositions to run")
    ap.add_argument("--references", action="store_true", help="add rows for the clean clip and the VAE round trip")
    a = ap.parse_args()
    preset = load_preset(a.preset).with_overrides([parse_override(s) for s in a.sets])
    models = load_models(preset.t2i_model, preset.t2v_model, a.device, torch.float32)
    clips = held_out_clips(range(a.first_seed, a.first_seed + a.clips), a.degradation)
    rows, _ = run(models, preset, clips, [*a.only, *(REFERENCES if a.references else ())])
    s = preset.data["schedule"]
    print(f"preset {preset.name}: tI={s['tI']} tT2V={s['tT2V']} tV={s['tV']} nV={s['nV']}, "
          f"{a.clips} held-out clips from seed {a.first_seed}, {a.degradation} defects, device {a.device}")
    print(table(rows))


if __name__ == "__main__":
    main()
