"""FLOPs per video at real size, counted on the meta device: no GPU, no weights, seconds on a laptop.

SD1.5-size models (the configs in evs_cli/engine/configs/sd15, AnimateDiff's default motion adapter) are
built on torch's meta device, where every operation only computes shapes; torch's FlopCounterMode counts
the matmuls, convolutions and attention the Engine's own encode, schedule and decode would run, with the
preset's chunks, windows and guidance. Prints one table: model calls and TFLOP per phase and per video,
and each fast preset's share of its full one.

    python scripts/count_flops.py                       # vc2, vc2-fast, ad2, ad2-fast at the paper's sizes
    python scripts/count_flops.py --presets vc2 --frames 128
    python scripts/count_flops.py --presets vc2 --set 't2i.guidance_interval=[200,999]'
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from bench_speed import PROMPT, build_models, count_flops  # noqa: E402

from evs_cli.engine.options import guided_at  # noqa: E402
from evs_cli.engine.pipeline import Engine  # noqa: E402
from evs_cli.engine.preset import load_preset, parse_override  # noqa: E402

# The videos the paper refines: VC2 at 320x512 and AD2 at 512x512, both worked on at twice that (resize 2).
INPUT_SIZE = {"vc2": (512, 320), "ad2": (512, 512)}  # (W, H)
FULL = {"vc2-fast": "vc2", "ad2-fast": "ad2"}


def count_video(models, preset_name: str, frames: int, overrides: list[str] = ()) -> dict:
    preset = load_preset(preset_name).with_overrides([parse_override(o) for o in overrides])
    engine = Engine(models, preset)
    w, h = INPUT_SIZE[FULL.get(preset_name, preset_name)]
    size = (int(w * preset.resize) // 64 * 64, int(h * preset.resize) // 64 * 64)
    video = torch.empty(frames, h, w, 3, dtype=torch.uint8, device="meta")
    box = {}
    enc = count_flops(lambda: box.__setitem__("x0", engine.encode(video, size)))
    x0 = box["x0"]
    noise = lambda shape: torch.empty(shape, device="meta")  # noqa: E731 - shapes are all the meta device has
    reports = []

    def stages():
        _, r = engine.refine_latents(x0, PROMPT, noise=noise)
        reports.extend(r)

    total_stages = count_flops(stages)
    vae = models.vae
    chunk = engine.vae_chunk(size[1], size[0])
    dec = count_flops(lambda: [vae.decode(x0[s : s + chunk].to(vae.dtype)) for s in range(0, frames, chunk)])
    calls = {m: sum(r.calls for r in reports if r.model == m) for m in ("t2i", "t2v")}
    model_flops = {}
    for m in ("t2i", "t2v"):  # a guided and an unguided call of each model, counted alone: the schedule's split
        d = engine.denoisers(PROMPT)[m]
        d.prepare("meta", frames)
        levels = [t for r in reports if r.model == m for t in r.timesteps]
        assert len(levels) == calls[m], (m, levels, calls)
        guided = sum(d.guidance != 1.0 and guided_at(d.guidance_interval, t) for t in levels)
        t = d.grid.timesteps[-1]
        d.guidance_interval = None  # a guided call's count, whatever the interval
        model_flops[m] = (count_flops(lambda: d(x0, t)) * guided
                          + count_flops(lambda: d(x0, t, guided=False)) * (len(levels) - guided)) if levels else 0
    name = preset_name + "".join(f" {o}" for o in overrides)
    return {"preset": name, "frames": frames, "size": f"{size[0]}x{size[1]}", "calls": calls,
            "encode": enc, "t2i": model_flops["t2i"], "t2v": model_flops["t2v"], "decode": dec,
            "text": total_stages - model_flops["t2i"] - model_flops["t2v"], "total": enc + total_stages + dec}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="vc2,vc2-fast,ad2,ad2-fast")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a preset override, as refine's --set: each preset gets a second row with it")
    a = ap.parse_args()
    models, _ = build_models("meta", torch.bfloat16, tiny=False)
    plain = [count_video(models, p, a.frames) for p in a.presets.split(",") if p]
    # with --set, each preset's row as shipped and then with the overrides, whose share is of the first
    rows = [row for r in plain for row in ([r, count_video(models, r["preset"], a.frames, a.set)] if a.set else [r])]
    by_name = {r["preset"]: r for r in rows}
    pf = lambda x: f"{x / 1e12:.1f}"  # noqa: E731
    print("TFLOP (10^12 floating-point operations) per video\n")
    print("| preset | frames × size | T2I calls | T2V calls | encode | T2I | T2V | decode | TFLOP/video "
          "| of full |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        # The schedule's count is the per-call counts times the calls, plus the prompts' text encoding.
        assert 0 <= r["text"] < 0.01 * r["total"], r
        base = r["preset"].split()[0]  # with --set, a row's share is of its preset as shipped
        full = by_name.get(FULL.get(r["preset"], "")) or (by_name[base] if base != r["preset"] else None)
        share = f"{100 * r['total'] / full['total']:.0f}%" if full else "–"
        print(f"| {r['preset']} | {r['frames']} × {r['size']} | {r['calls']['t2i']} | {r['calls']['t2v']} | "
              f"{pf(r['encode'])} | {pf(r['t2i'])} | {pf(r['t2v'])} | {pf(r['decode'])} | "
              f"{pf(r['total'])} | {share} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
