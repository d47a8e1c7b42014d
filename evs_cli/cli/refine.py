"""`evs refine`: its options, parsed into one typed request (batch.options.Request) and handed down."""

from __future__ import annotations

from pathlib import Path

import typer

from ..batch.options import Format, Resume
from ..batch.worker.claims import DEFAULT_LEASE
from ..errors import EvsError
from .app import app, fail, resolve_preset
from .options import (
    T2I,
    T2V,
    Base,
    Compile,
    CompileCache,
    Crf,
    Devices,
    DryRun,
    Dtype,
    Evaluate,
    Fmt,
    FromList,
    Inputs,
    Lease,
    Log,
    Lora,
    MaxMemory,
    MaxPixels,
    Out,
    Overwrite,
    Preset,
    PromptsFile,
    PromptText,
    Quiet,
    Ray,
    RayAddress,
    RayWorkers,
    Resize,
    ResumeOpt,
    Scale,
    Seed,
    SeedPerVideo,
    Sets,
    Shard,
    Size,
    Switch,
    Timeout,
    Tokenizer,
    Vae,
    Wait,
    check_folders,
    expand_inputs,
    placement,
)

EXAMPLES = ("Examples:\n\n"
            "  evs refine my-clips/ --preset toy --resize 0.25 --prompt 'a red circle moving left over blue stripes'"
            "   (the bundled toy models: no download, any CPU)\n\n"
            "  evs refine clip.mp4 --preset vc2 --prompt 'a corgi running on the beach'   (the paper's models, "
            "downloaded once)\n\n"
            "  evs refine vbench_videos/ --preset vc2 --out refined/ --log refined/timing.jsonl\n\n"
            "  evs refine in/ --preset ad2 --set tV=4 --devices cuda:0,cuda:1\n\n"
            "  evs refine clip.mp4 --preset sfi --dry-run")


@app.command(no_args_is_help=True, epilog=EXAMPLES)
def refine(inputs: Inputs = None, from_list: FromList = None, base: Base = None, preset: Preset = "vc2", out: Out = None,
           prompt: PromptText = None, prompts: PromptsFile = None, sets: Sets = [], t2i: T2I = None,  # noqa: B006
           t2v: T2V = None, vae: Vae = None, loras: Lora = [], tokenizer: Tokenizer = None,  # noqa: B006
           seed: Seed = 0, dtype: Dtype = None,
           compile_blocks: Compile = False, compile_cache: CompileCache = None, resize: Resize = None,
           scale: Scale = None, size: Size = None,
           fmt: Fmt = Format.MP4, crf: Crf = 17, overwrite: Overwrite = False, resume: ResumeOpt = Resume.SAME,
           log: Log = None, devices: Devices = None, ray: Ray = False, ray_address: RayAddress = None,
           ray_workers: RayWorkers = None, shard: Shard = None, dry_run: DryRun = False, quiet: Quiet = False,
           evaluate: Evaluate = False, lease: Lease = DEFAULT_LEASE, wait: Wait = False, timeout: Timeout = None, seed_per_video: SeedPerVideo = Switch.ON,
           max_pixels: MaxPixels = 4 * 2**20, max_memory: MaxMemory = "auto"):
    """Refine videos: T2I + [T2V] + T2I, as the preset's schedule says."""
    from ..batch.options import Execution, Limits, OutputPolicy, Prompts, Request, RunOptions, Seeds
    from ..batch.planning.memory import parse_bytes
    from .refine_run import refine_request

    where = Execution(placement(devices, ray, ray_address, ray_workers), ray, ray_address, ray_workers)
    if scale is not None and size is not None:
        fail("--scale and --size do not go together: give the output size one way")
    try:
        output = OutputPolicy(fmt.value, crf, scale, parse_size(size) if size else None, overwrite, resume.value,
                              evaluate)
        limits = Limits(max_pixels, parse_bytes(max_memory), lease, wait)
        if ray:
            from ..batch.dispatch.ray_connect import require_ray

            require_ray()
        k_of_n = parse_shard(shard) if shard else None
        if timeout is not None:
            sets = [*sets, f"runtime.video_timeout={parse_timeout(timeout)}"]
        p = resolve_preset(preset, sets, t2i, t2v, tokenizer, dtype, resize, compile_blocks, vae, loras)
        found, listed = expand_inputs(inputs or [], from_list)
        check_folders(base, compile_cache)
    except EvsError as e:
        fail(e)
    options = RunOptions(p, output, limits, Prompts(prompt), Seeds(seed, seed_per_video is Switch.ON),
                         compile_cache=compile_cache)
    request = Request(tuple(found), options, out, k_of_n, where, log_of_shard(log, k_of_n), quiet, tuple(listed),
                      base)
    raise typer.Exit(refine_request(request, prompts, dry_run, shard))


def parse_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().replace("×", "x").partition("x")
    if not (sep and w.strip().isdigit() and h.strip().isdigit() and 2 <= int(w) <= 16384 and 2 <= int(h) <= 16384):
        raise EvsError(f"--size must be WxH in pixels (2..16384 each), e.g. 1024x640, got {text!r}")
    return int(w), int(h)


def parse_timeout(text: str) -> str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise EvsError(f"--timeout must be seconds (0: none) or auto, got {text!r}")
    return repr(seconds)


def log_of_shard(log: Path | None, shard: tuple[int, int] | None) -> Path | None:
    """--log 'out/log-{shard}.jsonl': each task of a job array writes its own log (safe on NFS)."""
    if log is None or "{shard}" not in str(log):
        return log
    return Path(str(log).replace("{shard}", f"{shard[0]}-of-{shard[1]}" if shard else "all"))


def parse_shard(text: str) -> tuple[int, int]:
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit() and int(k) < int(n)):
        raise EvsError(f"--shard must be K/N with 0 <= K < N (e.g. 0/8), got {text!r}")
    return int(k), int(n)
