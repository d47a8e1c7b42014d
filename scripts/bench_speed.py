"""Speed and memory of the EVS schedule at real size, with SD1.5-size models of random weights.

Timing and memory do not depend on weight values, so this needs no download: the UNet, VAE and text
encoder are built from the SD1.5 configs shipped in evs_cli/configs/sd15 and the motion adapter from
diffusers' AnimateDiff defaults (AnimateDiff-Lightning's layout).

    python scripts/bench_speed.py                                  # VC2: 16 frames at 640x1024, fp16, cuda
    python scripts/bench_speed.py --frames 128 --preset vc2        # a long video (windowed T2V)
    python scripts/bench_speed.py --device cpu --frames 2 --height 256 --width 256 --dtype fp32   # smoke

Prints seconds per phase, model calls, frames per second and peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

from evs_cli.engine.models import SD15_CONFIG, ModelSet, build_motion_unet, parse_dtype  # noqa: E402
from evs_cli.engine.pipeline import Engine  # noqa: E402
from evs_cli.engine.preset import load_preset, parse_override  # noqa: E402
from evs_cli.toy.tiny import save_tokenizer  # noqa: E402


def sd15_random(device, dtype) -> ModelSet:
    from accelerate.utils import set_seed
    from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    set_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(SD15_CONFIG / "unet"))
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(SD15_CONFIG / "vae"))
        text = CLIPTextModel(CLIPTextConfig.from_json_file(SD15_CONFIG / "text_encoder" / "config.json"))
        adapter = MotionAdapter()  # SD1.5 AnimateDiff layout, as AnimateDiff-Lightning ships
    motion = build_motion_unet(unet, adapter)
    for m in (unet, vae, text, motion):
        m.to(device=device, dtype=dtype).eval().requires_grad_(False)
    tok = save_tokenizer(Path(tempfile.mkdtemp()) / "tok")
    sched = json.loads((SD15_CONFIG / "scheduler" / "scheduler_config.json").read_text())
    return ModelSet(tok, text, vae, unet, motion, sched, torch.device(device), dtype)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="vc2")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--height", type=int, default=640)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="fp16")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs after one warm-up run")
    a = ap.parse_args()
    dtype = parse_dtype(a.dtype)
    preset = load_preset(a.preset).with_overrides([parse_override(s) for s in a.sets])
    t = time.perf_counter()
    engine = Engine(sd15_random(a.device, dtype), preset)
    print(f"models built in {time.perf_counter() - t:.1f} s on {a.device} ({a.dtype})")
    frames = torch.randint(0, 256, (a.frames, a.height, a.width, 3), dtype=torch.uint8)
    cuda = a.device.startswith("cuda")
    for i in range(a.repeats + 1):
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        _, report = engine.refine(frames, "a corgi running on the beach", seed=i)
        total = time.perf_counter() - t
        stages = ", ".join(f"{s['model']} {s['calls']} calls {s['seconds']:.2f} s" for s in report["stages"])
        peak = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if cuda else ""
        tag = "warm-up" if i == 0 else f"run {i}"
        print(f"{tag}: {total:.2f} s total ({a.frames / total:.2f} frames/s): encode {report['seconds']['encode']:.2f} s, "
              f"{stages}, decode {report['seconds']['decode']:.2f} s{peak}")


if __name__ == "__main__":
    main()
