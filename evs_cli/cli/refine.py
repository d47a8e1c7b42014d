"""`evs refine`: refine videos, or print the resolved schedule with --dry-run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import EvsError
from .app import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    app,
    console,
    fail,
    resolve_preset,
)


@app.command(no_args_is_help=True, epilog=(
    "Examples:\n\n"
    "  evs refine clip.mp4 --prompt 'a corgi running on the beach'\n\n"
    "  evs refine vbench_videos/ --preset vc2 --out refined/ --log refined/timing.jsonl\n\n"
    "  evs refine in/ --preset ad2 --set tV=4 --devices cuda:0,cuda:1\n\n"
    "  evs refine clip.mp4 --preset sfi --dry-run"))
def refine(
    inputs: Optional[List[str]] = typer.Argument(None, metavar="INPUT", help="Video files (mp4 mov mkv webm avi "
                                                 "gif), folders (searched recursively), quoted globs (relative "
                                                 "paths kept below their fixed part), or - to read paths from "
                                                 "stdin, one a line."),
    from_list: Optional[Path] = typer.Option(None, "--from", metavar="LIST", help="Read more inputs from this file, "
                                             "one path a line (# comments and blank lines skipped)."),
    preset: str = typer.Option("vc2", "--preset", "-p", metavar='NAME|FILE', help="Shipped preset name (see `evs presets list`) or a YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar='PATH', help="Output folder (input's relative paths and file "
                                       "names kept, VBench-ready) or, for one input, a file. Default: ./evs-out"),
    prompt: Optional[str] = typer.Option(None, "--prompt", metavar='TEXT', help="One prompt for every video."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", metavar='FILE', help="JSON object or CSV/TSV of name -> prompt, or "
                                           "VBench's prompt-list JSON. Else a sidecar <video>.txt, else VBench's "
                                           "<prompt>-<index>.mp4 file name."),
    sets: List[str] = typer.Option([], "--set", metavar='KEY=VALUE', help="Override a preset key, e.g. tV=4, nV=2, t2i.guidance=5 "
                                   "(repeatable)."),
    t2i: Optional[str] = typer.Option(None, "--t2i", metavar='MODEL', help="T2I model: hub id, diffusers folder or .safetensors file."),
    t2v: Optional[str] = typer.Option(None, "--t2v", metavar='MODEL', help="T2V motion adapter: hub id (repo or repo:file), folder "
                                      "or .safetensors file."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", metavar='TOKENIZER', help="CLIP tokenizer folder or hub id (for single-file "
                                            "T2I checkpoints)."),
    seed: int = typer.Option(0, "--seed", metavar='N', min=0, max=2**63 - 1,
                             help="Noise seed; the same seed gives the same output."),
    dtype: Optional[str] = typer.Option(None, "--dtype", metavar='DTYPE', help="auto, bf16, fp16 or fp32. Default (preset runtime.dtype: "
                                        "auto): bf16 on GPUs with native bf16, fp16 on older GPUs, fp32 on the CPU."),
    compile_blocks: bool = typer.Option(False, "--compile", metavar='', help="torch.compile the UNets' and VAE's repeated blocks "
                                 "(preset runtime.compile). Costs about a minute per worker at start-up and a "
                                 "little more for each new video size; pays off over a folder."),
    resize: Optional[float] = typer.Option(None, "--resize", metavar='FACTOR', help="Working scale: frames are refined at input size x "
                                           "this, each side resampled to the nearest multiple of 64 (the UNets "
                                           "need it; the aspect ratio may change slightly inside, never in the "
                                           "output). Default: the preset's runtime.resize (vc2, ad2, sfi: 2.0 as "
                                           "in the paper; toy: 1.0)."),
    scale: Optional[float] = typer.Option(None, "--scale", metavar='FACTOR', min=0.05, max=8.0, help="Output size = input size x "
                                          "this (like Real-ESRGAN's --outscale). Default: 1, the input's own "
                                          "size; odd sides of an MP4 are rounded down to even (H.264 yuv420p)."),
    size: Optional[str] = typer.Option(None, "--size", metavar="WxH", help="Output size in pixels, instead of "
                                       "--scale, e.g. 1024x640."),
    fmt: str = typer.Option("mp4", "--format", metavar='mp4|png', help="mp4 (H.264, yuv420p) or png (a folder of lossless frames)."),
    crf: int = typer.Option(17, "--crf", metavar='N', min=0, max=51, help="H.264 quality (lower is better)."),
    overwrite: bool = typer.Option(False, "--overwrite", metavar='', help="Redo outputs that already exist (default: skip them)."),
    resume: str = typer.Option("same", "--resume", metavar='same|any', help="Which existing outputs a rerun skips. same: those made with "
                               "this run's settings (preset values, models, seed, sizes, format: a fingerprint "
                               "in each MP4's comment tag); one made otherwise fails with a line saying so. any: "
                               "every existing output."),
    log: Optional[Path] = typer.Option(None, "--log", metavar='FILE', help="Append one JSON record per video (timings, calls, status)."),
    devices: Optional[str] = typer.Option(None, "--devices", metavar='DEVICES', help="Comma-separated devices, one worker each, e.g. "
                                          "cuda:0,cuda:1 or cpu,cpu. Default: every visible GPU, else the CPU."),
    ray: bool = typer.Option(False, "--ray", metavar='', help="Run on a Ray cluster: one actor per GPU it offers (CPU actors "
                             "if it has none). Inputs and --out must be on a filesystem every node sees. Needs "
                             "pip install 'evs_cli\\[ray]'."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", metavar="ADDRESS", help="With --ray: the "
                                              "cluster to join. Default: RAY_ADDRESS, else the cluster `ray start` "
                                              "left on this machine, else a new local one."),
    ray_workers: Optional[int] = typer.Option(None, "--ray-workers", min=1, metavar="N", help="With --ray: at most "
                                              "N actors. Default: one per GPU (one per node on a CPU cluster)."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="K/N", help="Keep only shard K of N (0 <= K < N) "
                                        "of the videos, by a stable hash of their relative paths: one shard per "
                                        "task of a job array (e.g. --shard $SLURM_ARRAY_TASK_ID/8)."),
    dry_run: bool = typer.Option(False, "--dry-run", metavar='', help="Print the resolved stages and what would happen to each "
                                 "input (output, prompt, refine or skip); loads no model."),
    quiet: bool = typer.Option(False, "--quiet", "-q", metavar='', help="Print nothing but errors."),
    evaluate: bool = typer.Option(False, "--eval", metavar='', help="Add each output's weight-free metrics (see `evs eval`) "
                                  "to its log record."),
    stale_after: float = typer.Option(6 * 3600, "--stale-after", metavar='SECONDS', help="Seconds after which another run's claim on "
                                      "an output is considered abandoned."),
    seed_per_video: str = typer.Option("on", "--seed-per-video", metavar='on|off', help="on: each video's noise seed is derived "
                                       "from --seed and its relative path (stable across runs and machines; VBench's "
                                       "five samples of a prompt get different noise); off: every video uses --seed."),
    max_pixels: int = typer.Option(4 * 2**20, "--max-pixels", metavar='PIXELS', min=1, help="Refuse a video whose frames, after "
                                   "--resize, have more pixels than this (checked before decoding it; the "
                                   "default is 2048x2048)."),
    max_memory: str = typer.Option("auto", "--max-memory", metavar='SIZE', help="Refuse a video whose estimated memory "
                                   "need (from its header: frames x sizes, before decoding) is over SIZE (e.g. 16G). "
                                   "auto: what the host, its cgroup (SLURM, containers) and the device have free "
                                   "when the video starts."),
):
    """Refine videos: T2I + [T2V] + T2I, as the preset's schedule says."""
    from ..batch.memory import parse_bytes
    from ..batch.outputs import plan_jobs
    from ..engine.pipeline import check_schedulers
    from ..io.inputs import find_inputs
    from ..io.prompts import load_prompt_table

    if fmt not in ("mp4", "png"):
        fail(f"--format must be mp4 or png, got {fmt!r}")
    if resume not in ("same", "any"):
        fail(f"--resume must be same or any, got {resume!r}")
    if seed_per_video not in ("on", "off"):
        fail(f"--seed-per-video must be on or off, got {seed_per_video!r}")
    if ray and devices:
        fail("--ray and --devices do not go together: on a cluster, every GPU of every node is used")
    if not ray and (ray_address or ray_workers):
        fail(f"{'--ray-address' if ray_address else '--ray-workers'} needs --ray")
    if scale is not None and size is not None:
        fail("--scale and --size do not go together: give the output size one way")
    try:
        wh = parse_size(size) if size else None
        memory_limit = parse_bytes(max_memory)
        if ray:
            from ..batch.cluster import require_ray

            require_ray()
        k_of_n = parse_shard(shard) if shard else (0, 1)
        p = resolve_preset(preset, sets, t2i, t2v, tokenizer, dtype, resize, compile_blocks)
        check_schedulers(p)  # names and values, on the model's own scheduler config where it is local
        if dry_run:
            _print_stages(p)
        inputs = _expand_lists(inputs or [], from_list)
        jobs = plan_jobs(find_inputs(inputs), out, fmt, k_of_n)
        table = load_prompt_table(prompts) if prompts else {}
    except EvsError as e:
        fail(str(e))
    if not jobs and shard:
        if not quiet:
            print(f"evs: shard {shard} holds none of the videos in {_named(inputs)}", file=sys.stderr)
        raise typer.Exit(EXIT_OK)
    if not jobs:
        fail(f"no video files found in {_named(inputs)}")
    from ..batch.job import RunOptions

    options = RunOptions(p, seed, crf, fmt, overwrite, prompt, table, stale_after, evaluate,
                         max_pixels=max_pixels, max_memory=memory_limit, seed_per_video=seed_per_video == "on", scale=scale, size=wh)
    if dry_run:
        from .dry_run import print_plan

        raise typer.Exit(print_plan(jobs, options, resume))
    from ..batch.outputs import check_writable
    from ..batch.pool import check_devices, default_devices, run_jobs
    from ..batch.report import Reporter
    from ..batch.settings import fingerprint
    from ..engine.models import check_sources

    devs = [] if ray else [d.strip() for d in devices.split(",") if d.strip()] if devices else default_devices()
    try:
        check_devices(devs)
        check_writable(jobs)
        check_sources(p.t2i_model, p.t2v_model)  # local model paths: cheap, and before any load
        reporter = Reporter(jobs, log, quiet, _stages(p))
    except EvsError as e:
        fail(str(e))
    todo = reporter.skip_finished(jobs, overwrite, fingerprint(options), resume)  # before any model loads
    if todo:
        reporter.loading(p, "the Ray cluster" if ray else ", ".join(devs))
    try:
        if todo and ray:
            from ..batch.cluster import run_on_ray

            run_on_ray(todo, options, reporter.for_jobs(todo), ray_address, ray_workers)
        elif todo:
            run_jobs(todo, devs, options, reporter.for_jobs(todo))
    except KeyboardInterrupt:
        reporter.close()
        print("evs: interrupted; unfinished outputs were not written", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED)
    except EvsError as e:  # a setup error (no actor could start): no summary of a run that did not happen
        reporter.close(summary=bool(reporter.records))
        fail(str(e))
    counts = reporter.close()
    if reporter.fatal and not ray and len(reporter.fatal) == len(devs):
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_FAILED if counts.get("failed") else EXIT_OK)


_BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off"}


def _not_a_flag_value(arg: str) -> None:
    """`--overwrite true`: flags take no value, so 'true' arrives as an input; say that, not 'no such file'."""
    if arg.lower() not in _BOOLEAN_WORDS or Path(arg).exists():
        return
    argv = sys.argv[1:]
    for before, token in zip(argv, argv[1:]):
        if token == arg and before.startswith("-") and "=" not in before:
            raise EvsError(f"{before} is a flag and takes no value: drop {arg!r} (leave the flag out for "
                           "the default)")


def _named(inputs: list[str]) -> str:
    return ", ".join(inputs[:3]) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else "")


def _expand_lists(inputs: list[str], from_list: Path | None) -> list[str]:
    """The command line's inputs with '-' replaced by the paths on stdin, then those of --from."""
    from ..io.inputs import read_input_list

    out: list[str] = []
    for a in inputs:
        _not_a_flag_value(a)
        out += read_input_list("-", sys.stdin) if a == "-" else [a]
    if from_list is not None:
        out += read_input_list(str(from_list))
    if not out:
        raise EvsError("no inputs: name video files, folders or globs, - for stdin, or --from LIST")
    return out


def parse_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().replace("×", "x").partition("x")
    if not (sep and w.strip().isdigit() and h.strip().isdigit() and 2 <= int(w) <= 16384 and 2 <= int(h) <= 16384):
        raise EvsError(f"--size must be WxH in pixels (2..16384 each), e.g. 1024x640, got {text!r}")
    return int(w), int(h)


def parse_shard(text: str) -> tuple[int, int]:
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit() and int(k) < int(n)):
        raise EvsError(f"--shard must be K/N with 0 <= K < N (e.g. 0/8), got {text!r}")
    return int(k), int(n)


def _stages(p):
    from ..engine.stages import build_stages

    return build_stages(p.schedule_params())


def _dry_grids(p):
    """The preset's grids from the SD1.5 scheduler config shipped with evs: no model is loaded."""
    import json

    from ..engine.models import SD15_CONFIG
    from ..engine.pipeline import preset_grids

    return preset_grids(p, json.loads((SD15_CONFIG / "scheduler" / "scheduler_config.json").read_text()))


def _print_stages(p) -> None:
    from ..engine.stages import count_calls

    stages, grids = _stages(p), _dry_grids(p)
    t = Table(title=f"preset {p.name}: {p.data['schedule']['composition']} ({p.source})", title_justify="left")
    for col in ("#", "model", "start", "calls", "timesteps", "injection"):
        t.add_column(col)
    for i, s in enumerate(stages):
        levels = grids[s.model].levels(s.start, s.calls)
        inj = (f"invert, gamma={s.injection.gamma}, layers={','.join(s.injection.layers)}" if s.injection
               else ("invert" if s.mode == "invert" else "sdedit"))
        t.add_row(str(i), s.model, f"{s.mode} at {s.start}/{grids[s.model].steps} (t={levels[0]})", str(s.calls),
                  " ".join(map(str, levels)), inj)
    console().print(t)
    n = count_calls(stages)
    print(f"model calls: t2i {n['t2i']}, t2v {n['t2v']}, inversion t2i {n['t2i_inversion']}, "
          f"t2v {n['t2v_inversion']}; t2i guidance {p.t2i.guidance} "
          f"({'one batched cond+uncond pass' if p.t2i.guidance != 1 else 'no uncond pass'}), "
          f"t2v guidance {p.t2v.guidance} ({'one batched cond+uncond pass' if p.t2v.guidance != 1 else 'no uncond pass'})")
    print(f"models: t2i {p.t2i_model}; t2v {p.t2v_model}")
