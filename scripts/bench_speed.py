"""Speed and memory of EVS at real size, with SD1.5-size models of random weights (no download).

Timing and memory do not depend on weight values: the UNet, VAE and text encoder are built from the
SD1.5 configs shipped in evs_cli/engine/configs/sd15 and the motion adapter from diffusers'
AnimateDiff defaults (AnimateDiff-Lightning's layout). Needs only torch, diffusers and transformers.

    python scripts/bench_speed.py                      # vc2, ad2 and vc2 at 128 frames; eager; stock diffusers
    python scripts/bench_speed.py --configs vc2 --compile
    python scripts/bench_speed.py --folder 6           # + 6 short videos end to end through the batch (needs PyAV)
    python scripts/bench_speed.py --device cpu --dtype fp32 --configs tiny --stock   # smoke test on a CPU

Schedule mode prints, per configuration: seconds per phase (median of --repeats runs after a warm-up),
model calls, FLOPs (counted once with torch's FlopCounterMode), achieved TFLOP/s and its share of the
device's dense bf16 peak, and peak GPU memory. `--stock` times the same refinement done with stock
diffusers pipelines (Img2Img -> AnimateDiffVideoToVideo -> Img2Img, decoding and re-encoding between
them, with UNetMotionModel.from_unet2d's weight copy) and prints the ratio. `--folder N` writes N short
videos and refines them through the batch machinery, pipelined and serial, and prints the share of
wall time the device spent outside model calls (the GPU-idle share).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402

from evs_cli.engine.loaders.models import (  # noqa: E402
    SD15_CONFIG,
    ModelSet,
    parse_dtype,
    resolve_dtype,
)
from evs_cli.engine.loaders.motion_unet import build_motion_unet, unique_parameter_bytes  # noqa: E402
from evs_cli.engine.pipeline import Engine  # noqa: E402
from evs_cli.engine.preset import load_preset, parse_override  # noqa: E402
from evs_cli.engine.runtime.compile_cache import use_compile_cache  # noqa: E402
from evs_cli.engine.runtime.speed import speed_up  # noqa: E402
from evs_cli.toy.tiny import build_adapter, build_t2i, save_tokenizer  # noqa: E402

PROMPT = "a corgi running on the beach"
# name: (preset, frames, height, width)
CONFIGS = {"vc2": ("vc2", 16, 640, 1024), "ad2": ("ad2", 16, 1024, 1024), "vc2-128": ("vc2", 128, 640, 1024),
           "vc2-fast": ("vc2-fast", 16, 640, 1024), "ad2-fast": ("ad2-fast", 16, 1024, 1024),
           "tiny": ("vc2", 4, 64, 64), "tiny-wide": ("vc2", 4, 64, 128)}
H100_BF16_DENSE = 989e12  # datasheet, SXM; the run also measures a large bf16 matmul as a second ceiling


def say(*a):
    print(*a, flush=True)


def build_models(device, dtype, tiny: bool):
    """SD1.5-size random models (or tiny ones), returned with the adapter for the stock pipeline."""
    from accelerate.utils import set_seed
    from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    set_seed(0)
    if tiny:
        unet, vae, text, _ = build_t2i()
        adapter = build_adapter()
    else:
        with torch.device(device):
            unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(SD15_CONFIG / "unet"))
            vae = AutoencoderKL.from_config(AutoencoderKL.load_config(SD15_CONFIG / "vae"))
            text = CLIPTextModel(CLIPTextConfig.from_json_file(SD15_CONFIG / "text_encoder" / "config.json"))
            adapter = MotionAdapter()  # SD1.5 AnimateDiff layout, as AnimateDiff-Lightning ships
    motion = build_motion_unet(unet, adapter)
    for m in (unet, vae, text, motion, adapter):
        m.to(device=device, dtype=dtype).eval().requires_grad_(False)
    tok = save_tokenizer(Path(tempfile.mkdtemp()) / "tok")
    sched = json.loads((SD15_CONFIG / "scheduler" / "scheduler_config.json").read_text())
    return ModelSet(tok, text, vae, unet, motion, sched, torch.device(device), dtype), adapter


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def peak_gib(device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if torch.device(device).type == "cuda" else None


def reset_peak(device):
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def time_runs(fn, device, repeats: int, warmup: int = 1):
    """`warmup` runs, then `repeats` timed runs: (median seconds, last result, peak GiB over them, seconds of
    the first warm-up run: with --compile, what compiling costs this process)."""
    first = None
    for _ in range(warmup):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        first = time.perf_counter() - t if first is None else first
    times, result = [], None
    reset_peak(device)
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        result = fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times), result, peak_gib(device), first


def bench_config(name, models, adapter, a, peak_flops, results, attention="auto"):
    preset_name, frames, height, width = CONFIGS[name]
    sets = [*a.sets, f"runtime.attention={attention}"]
    preset = load_preset(preset_name).with_overrides([parse_override(s) for s in sets])
    engine = Engine(models, preset)
    video = torch.randint(0, 256, (frames, height, width, 3), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    run = lambda: engine.refine(video, PROMPT, seed=0)  # noqa: E731
    flops = count_flops(run) if a.flops else 0
    seconds, (_, report), peak, first = time_runs(run, a.device, a.repeats, a.warmup)
    sec = report.seconds
    stages = ", ".join(f"{s.model} {s.calls} calls {s.seconds:.2f} s" for s in report.stages)
    row = {"config": name, "mode": "evs compiled" if a.compile else "evs eager", "attention": attention,
           "frames": frames,
           "size": f"{width}x{height}", "seconds": round(seconds, 3), "encode": round(sec["encode"], 3),
           "stages": [round(s.seconds, 3) for s in report.stages], "decode": round(sec["decode"], 3),
           "calls": report.calls, "flops": flops, "peak_gib": peak and round(peak, 2),
           "first_run_s": first and round(first, 3)}
    if a.compile:
        from torch._dynamo.utils import counters

        row.update(fx_cache_hits=counters["inductor"]["fxgraph_cache_hit"],
                   fx_cache_misses=counters["inductor"]["fxgraph_cache_miss"])
    line = (f"{name} ({row['mode']}, attention {attention}): {seconds:.2f} s/video ({frames / seconds:.1f} frames/s): encode "
            f"{sec['encode']:.2f} s, {stages}, decode {sec['decode']:.2f} s")
    if flops:
        row["tflops"] = round(flops / seconds / 1e12, 1)
        row["pct_of_peak"] = round(100 * flops / seconds / peak_flops, 1)
        line += f"; {flops / 1e15:.2f} PFLOP, {row['tflops']} TFLOP/s = {row['pct_of_peak']}% of bf16 peak"
    if peak is not None:
        line += f"; peak GPU memory {peak:.2f} GiB"
    if a.compile:
        line += (f"; first run {first:.1f} s (inductor cache: {row['fx_cache_hits']} graphs loaded, "
                 f"{row['fx_cache_misses']} compiled)")
    say(line)
    if a.sync_check and torch.device(a.device).type == "cuda":
        row["host_syncs_in_refinement"] = sync_check(engine, video)
        say(f"  sync check (torch.cuda.set_sync_debug_mode('error') around refine_latents): "
            f"{row['host_syncs_in_refinement']}")
    results.append(row)
    if a.stock and name != "vc2-128":
        bench_stock(name, preset, models, adapter, video, a, seconds, peak_flops, results)
    return row


def sync_check(engine, video) -> str:
    """'none' when a refinement (the stages, after the VAE encode) never makes the host wait for the device,
    else the first synchronising call PyTorch names."""
    x0 = engine.encode(video)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        engine.refine_latents(x0, PROMPT, seed=0)
        return "none"
    except RuntimeError as e:
        return f"found: {str(e).splitlines()[0]}"
    finally:
        torch.cuda.set_sync_debug_mode(0)
        torch.cuda.synchronize()


def bench_stock(name, preset, models, adapter, video, a, evs_seconds, peak_flops, results):
    """The same refinement as a stock-diffusers user composes it: three pipelines, decoded in between."""
    from diffusers import (
        AnimateDiffVideoToVideoPipeline,
        DDIMScheduler,
        EulerDiscreteScheduler,
        StableDiffusionImg2ImgPipeline,
        UNetMotionModel,
    )

    s, m = preset.data["schedule"], models
    motion = UNetMotionModel.from_unet2d(m.unet, adapter).to(m.device, m.dtype)  # copies the spatial weights
    copy_bytes = unique_parameter_bytes(m.unet, motion, m.vae, m.text_encoder)
    ours_bytes = unique_parameter_bytes(m.unet, m.motion_unet, m.vae, m.text_encoder)
    img2img = StableDiffusionImg2ImgPipeline(
        vae=m.vae, text_encoder=m.text_encoder, tokenizer=m.tokenizer, unet=m.unet, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
        scheduler=DDIMScheduler.from_config(m.scheduler_config, timestep_spacing="leading", steps_offset=1))
    v2v = AnimateDiffVideoToVideoPipeline(
        vae=m.vae, text_encoder=m.text_encoder, tokenizer=m.tokenizer, unet=motion, motion_adapter=None,
        scheduler=EulerDiscreteScheduler.from_config(m.scheduler_config, timestep_spacing="trailing",
                                                     beta_schedule="linear"))
    for p in (img2img, v2v):
        p.set_progress_bar_config(disable=True)
    frames = video.shape[0]
    neg = preset.t2i.negative_prompt
    m.vae.enable_slicing()  # what a user does to decode 16 large frames without running out of memory

    def run():
        x = video.to(m.device).permute(0, 3, 1, 2).float() / 255
        x = img2img([PROMPT] * frames, image=x, negative_prompt=[neg] * frames, strength=(s["tI"] - s["tT2V"]) / 50,
                    num_inference_steps=50, guidance_scale=preset.t2i.guidance, output_type="pt").images
        x = v2v(prompt=PROMPT, video=x.unsqueeze(0), strength=s["tV"] / 8, num_inference_steps=8,
                guidance_scale=1.0, output_type="pt").frames[0]
        return img2img([PROMPT] * frames, image=x, negative_prompt=[neg] * frames, strength=s["tT2V"] / 50,
                       num_inference_steps=50, guidance_scale=preset.t2i.guidance, output_type="pt").images

    try:
        flops = count_flops(run) if a.flops else 0
        seconds, _, peak, _ = time_runs(run, a.device, max(1, a.repeats - 1))
    finally:
        m.vae.disable_slicing()
        del motion
    row = {"config": name, "mode": "stock diffusers", "seconds": round(seconds, 3), "flops": flops,
           "peak_gib": peak and round(peak, 2), "weight_bytes": copy_bytes, "evs_weight_bytes": ours_bytes,
           "ratio_stock_over_evs": round(seconds / evs_seconds, 2)}
    line = (f"{name} (stock diffusers Img2Img -> AnimateDiffV2V -> Img2Img): {seconds:.2f} s/video, "
            f"{seconds / evs_seconds:.2f}x evs's time")
    if flops:
        line += f"; {flops / 1e15:.2f} PFLOP ({flops / seconds / 1e12:.0f} TFLOP/s)"
    if peak is not None:
        line += f"; peak GPU memory {peak:.2f} GiB"
    line += (f"; weights {copy_bytes / 2**30:.2f} GiB (from_unet2d copies the spatial UNet) vs evs "
             f"{ours_bytes / 2**30:.2f} GiB")
    say(line)
    results.append(row)


def measured_bf16_peak(device) -> float:
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    sync(device)
    return 10 * 2 * 8192**3 / (time.perf_counter() - t)


def bench_folder(models_dir: Path, a, results, config: str):
    """N short videos at half the config's size (vc2: 16 frames of 320x512, refined at x2) through the batch,
    serial then pipelined, after one untimed video."""
    from fractions import Fraction

    import numpy as np

    from evs_cli.batch.dispatch.pool import run_jobs
    from evs_cli.batch.events import Finished, Loaded
    from evs_cli.batch.options import Prompts, RunOptions
    from evs_cli.batch.planning.outputs import plan_jobs
    from evs_cli.batch.worker.spec import RefineWork
    from evs_cli.io.inputs import find_inputs
    from evs_cli.io.video import write_mp4

    root = Path(tempfile.mkdtemp(prefix="evs-bench-"))
    (root / "in").mkdir()
    _, n_frames, height, width = CONFIGS[config]
    yy, xx = np.mgrid[0 : height // 2, 0 : width // 2]
    for v in range(a.folder):
        frames = [np.stack([(xx + 7 * i + 40 * v) % 256, (yy + 3 * i) % 256, (xx + yy) // 4 % 256], -1)
                  for i in range(n_frames)]
        write_mp4(torch.from_numpy(np.stack(frames).astype(np.uint8)), root / "in" / f"a corgi-{v}.mp4", Fraction(8))
    preset = load_preset("vc2").with_overrides([
        parse_override(f"models.t2i={models_dir / 't2i'}"), parse_override(f"models.t2v={models_dir / 'adapter'}"),
        parse_override(f"runtime.dtype={a.dtype}"), parse_override(f"runtime.compile={str(a.compile).lower()}")])
    # A first, untimed pass of one video pays the process's one-off costs (CUDA kernels loaded on first
    # use, cuDNN heuristics, allocator growth), which would otherwise fall on whichever mode ran first.
    warm = plan_jobs(find_inputs([str(root / "in" / "a corgi-0.mp4")]), root / "warm", "mp4")
    run_jobs(warm, [a.device], RefineWork(RunOptions(preset, prompts=Prompts(PROMPT), pipelined=False), tuple(warm)),
             lambda ev: None)
    for pipelined in (False, True):
        out = root / ("piped" if pipelined else "serial")
        jobs = plan_jobs(find_inputs([str(root / "in")]), out, "mp4")
        stamps, records = {}, []

        def on_event(ev):
            if isinstance(ev, Loaded):
                stamps["loaded"] = time.perf_counter()
            elif isinstance(ev, Finished):
                stamps["last"] = time.perf_counter()
                records.append(ev.record)

        t0 = time.perf_counter()
        run_jobs(jobs, [a.device], RefineWork(RunOptions(preset, prompts=Prompts(PROMPT), pipelined=pipelined),
                                              tuple(jobs)), on_event)
        wall = stamps["last"] - stamps["loaded"]
        busy = sum(r["seconds"]["encode"] + sum(r["seconds"]["stages"]) + r["seconds"]["decode"] for r in records
                   if r["status"] == "ok")
        ok = sum(r["status"] == "ok" for r in records)
        row = {"mode": "folder " + ("pipelined" if pipelined else "serial"), "videos": ok, "wall_s": round(wall, 2),
               "load_s": round(stamps["loaded"] - t0, 2), "device_busy_s": round(busy, 2),
               "idle_share": round(1 - busy / wall, 3),
               "read_s": round(sum(r["seconds"].get("read", 0) for r in records), 2),
               "write_s": round(sum(r["seconds"].get("write", 0) for r in records), 2)}
        say(f"folder ({row['mode'][7:]}): {ok}/{a.folder} videos in {wall:.2f} s after {row['load_s']:.1f} s of "
            f"loading ({wall / max(ok, 1):.2f} s/video); device busy {busy:.2f} s, idle {100 * row['idle_share']:.1f}%"
            f"; read {row['read_s']} s and write {row['write_s']} s in all")
        results.append(row)


def save_models(models, adapter, root: Path) -> Path:
    """The random models as a diffusers folder and an adapter folder, so the batch loads them as a user's."""
    import shutil

    models.unet.save_pretrained(root / "t2i" / "unet")
    models.vae.save_pretrained(root / "t2i" / "vae")
    models.text_encoder.save_pretrained(root / "t2i" / "text_encoder")
    models.tokenizer.save_pretrained(root / "t2i" / "tokenizer")
    (root / "t2i" / "scheduler").mkdir(parents=True, exist_ok=True)
    shutil.copy(SD15_CONFIG / "scheduler" / "scheduler_config.json", root / "t2i" / "scheduler")
    adapter.save_pretrained(root / "adapter")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="vc2,ad2,vc2-128", help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="preset override, e.g. tV=4")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs after the warm-up runs")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (0: time the first run too)")
    ap.add_argument("--compile", action="store_true", help="regional torch.compile (evs --compile)")
    ap.add_argument("--compile-cache", type=Path, help="keep compiled graphs here (evs --compile-cache); "
                    "default: inductor's own (under /tmp)")
    ap.add_argument("--no-flops", dest="flops", action="store_false", help="skip the FLOP-counting run")
    ap.add_argument("--stock", action="store_true", help="also time stock diffusers pipelines")
    ap.add_argument("--folder", type=int, default=0, help="also refine N short videos end to end")
    ap.add_argument("--folder-config", default="vc2", help="their size: half this config's (the preset resizes x2)")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--attention", default="auto", help="comma-separated runtime.attention kernels to time each "
                    "config with (auto, flash, cudnn, efficient, math)")
    ap.add_argument("--vae-layout", default="auto", help="comma-separated VAE memory formats to time each config "
                    "with (channels_last, contiguous)")
    ap.add_argument("--sync-check", action="store_true", help="also refine once under set_sync_debug_mode('error')")
    a = ap.parse_args()
    a.dtype = resolve_dtype(a.dtype, a.device)
    dtype = parse_dtype(a.dtype)
    results: list[dict] = []
    cuda = a.device.startswith("cuda")
    peak_flops = H100_BF16_DENSE
    if cuda:
        measured = measured_bf16_peak(a.device)
        say(f"device: {torch.cuda.get_device_name(a.device)}; torch {torch.__version__}; dtype {a.dtype}; "
            f"bf16 8192^3 matmul {measured / 1e12:.0f} TFLOP/s (datasheet dense peak {peak_flops / 1e12:.0f})")
        results.append({"device": torch.cuda.get_device_name(a.device), "matmul_tflops": round(measured / 1e12)})
    t = time.perf_counter()
    names = [c for c in a.configs.split(",") if c]
    models, adapter = build_models(a.device, dtype, tiny=all(n.startswith("tiny") for n in names or [a.folder_config]))
    if a.compile and a.compile_cache:
        say(f"compile cache: {use_compile_cache(a.compile_cache, a.device)}")
    compiled = speed_up(models, compile=a.compile)
    say(f"models built in {time.perf_counter() - t:.1f} s on {a.device} ({a.dtype}, channels_last "
        f"{'on' if cuda else 'off'}, {compiled} blocks compiled)")
    runs = [(n, k, v) for n in names for k in a.attention.split(",") for v in a.vae_layout.split(",")]
    for name, attention, layout in runs:
        t = time.perf_counter()
        if a.vae_layout != "auto":  # the VAE's memory format for this run (runtime.vae_layout)
            models.vae.to(memory_format=torch.channels_last if layout == "channels_last" else torch.contiguous_format)
            say(f"VAE layout: {layout}")
        try:
            bench_config(name, models, adapter, a, peak_flops, results, attention)
            results[-1]["vae_layout"] = layout
        except torch.cuda.OutOfMemoryError as e:
            say(f"{name}: out of GPU memory ({str(e).splitlines()[0]})")
            torch.cuda.empty_cache()
        say(f"  ({name} took {time.perf_counter() - t:.0f} s including warm-up{' and compilation' if a.compile else ''}"
            f"{' and FLOP counting' if a.flops else ''})")
        if a.json:
            a.json.write_text(json.dumps(results, indent=1))
    if a.folder:
        root = save_models(models, adapter, Path(tempfile.mkdtemp(prefix="evs-models-")))
        del models, adapter
        torch.cuda.empty_cache() if cuda else None
        bench_folder(root, a, results, a.folder_config)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
