"""`evs refine`: its options, parsed into one typed request (batch.options.Request) and handed down."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..batch.options import Format, Resume
from ..batch.worker.claims import DEFAULT_LEASE
from ..engine.runtime.compile_cache import unusable
from ..errors import EvsError
from .app import app, fail, resolve_preset


class Switch(str, Enum):
    ON = "on"
    OFF = "off"


Opt = typer.Option
# refine --help groups its options by what a user is deciding (tune shares these aliases, and so its panels)
IO, MODELS, BATCH = "Inputs and outputs", "Preset and models", "Batch and resume"
DEVICES, SPEED = "Devices and cluster", "Speed and memory"
Inputs = Annotated[Optional[List[str]], typer.Argument(metavar="INPUT", help=(
    "Video files (mp4 mov mkv webm avi gif), folders (searched recursively), quoted globs (relative paths kept "
    "below their fixed part), or - to read paths from stdin, one a line."))]
FromList = Annotated[Optional[Path], Opt("--from", metavar="LIST", rich_help_panel=IO, help=(
    "Read more inputs from this file, one path a line (# comments and blank lines skipped)."))]
Base = Annotated[Optional[Path], Opt("--base", metavar="DIR", rich_help_panel=IO, help=(
    "Listed files (- and --from) keep their path below DIR under --out. Default: the current folder, or the "
    "folder they all share when some lie outside it."))]
Preset = Annotated[str, Opt("--preset", "-p", metavar="NAME|FILE", rich_help_panel=MODELS, help=(
    "Shipped preset name (see `evs presets list`) or a YAML file."))]
Out = Annotated[Optional[Path], Opt("--out", "-o", metavar="PATH", rich_help_panel=IO, help=(
    "Output folder (input's relative paths and file names kept, VBench-ready) or, for one input, a file. "
    "Default: ./evs-out"))]
PromptText = Annotated[Optional[str], Opt("--prompt", metavar="TEXT", rich_help_panel=IO, help="One prompt for every video.")]
PromptsFile = Annotated[Optional[Path], Opt("--prompts", metavar="FILE", rich_help_panel=IO, help=(
    "JSON object or CSV/TSV of name -> prompt, or VBench's prompt-list JSON. Else a sidecar <video>.txt, else "
    "VBench's <prompt>-<index>.mp4 file name."))]
Sets = Annotated[List[str], Opt("--set", metavar="KEY=VALUE", rich_help_panel=MODELS, help=(
    "Override a preset key, e.g. tV=4, nV=2, t2i.guidance=5 (repeatable)."))]
T2I = Annotated[Optional[str], Opt("--t2i", metavar="MODEL", rich_help_panel=MODELS, help=(
    "T2I model: hub id, diffusers folder or .safetensors file."))]
T2V = Annotated[Optional[str], Opt("--t2v", metavar="MODEL", rich_help_panel=MODELS, help=(
    "T2V motion adapter: hub id (repo or repo:file), folder or .safetensors file."))]
Vae = Annotated[Optional[str], Opt("--vae", metavar="VAE", rich_help_panel=MODELS, help=(
    "An external VAE for both models instead of the T2I model's own (preset models.vae): a diffusers folder, "
    "a hub id (stabilityai/sd-vae-ft-mse) or a single file (vae-ft-mse-840000-ema-pruned.safetensors; config "
    "from a config.json beside it, else SD1.5's). Part of the outputs' settings."))]
Lora = Annotated[List[str], Opt("--lora", metavar="FILE[:SCALE]", rich_help_panel=MODELS, help=(
    "A LoRA for the T2I stages, kohya/A1111 or diffusers format, at SCALE (default 1); repeat for several. "
    "Added to the preset's t2i.loras; a LoRA for the T2V stage only goes in t2v.loras. Part of the outputs' "
    "settings."))]
Tokenizer = Annotated[Optional[str], Opt("--tokenizer", metavar="TOKENIZER", rich_help_panel=MODELS, help=(
    "CLIP tokenizer folder or hub id (for single-file T2I checkpoints)."))]
def _seed_range(value: int) -> int:
    # checked here, not with min/max: the range would print as 20 digits beside every option of the panel
    if not 0 <= value < 2**63:
        raise typer.BadParameter(f"{value} is not in 0..2**63-1")
    return value


Seed = Annotated[int, Opt("--seed", metavar="N", callback=_seed_range, rich_help_panel=MODELS, help=(
    "Noise seed, 0 to 2**63-1; the same seed gives the same output."))]
Dtype = Annotated[Optional[str], Opt("--dtype", metavar="DTYPE", rich_help_panel=SPEED, help=(
    "auto, bf16, fp16 or fp32. Default (preset runtime.dtype: auto): bf16 on GPUs with native bf16, fp16 on "
    "older GPUs, fp32 on the CPU."))]
Compile = Annotated[bool, Opt("--compile", metavar="", rich_help_panel=SPEED, help=(
    "torch.compile the UNets' repeated blocks and the VAE's encoder and decoder (preset runtime.compile). The "
    "first run on a machine pays the compilation, minutes for each new video size; later runs, in any process, "
    "load it from --compile-cache in a fraction of that. Pays off over a folder."))]
CompileCache = Annotated[Optional[Path], Opt("--compile-cache", metavar="DIR", rich_help_panel=SPEED, help=(
    "Where --compile keeps compiled graphs, one subfolder per torch build, Python and GPU model. Default: "
    "$TORCHINDUCTOR_CACHE_DIR if set, else ~/.cache/evs/compile (under $XDG_CACHE_HOME if set)."))]
Resize = Annotated[Optional[float], Opt("--resize", metavar="FACTOR", rich_help_panel=MODELS, help=(
    "Working scale: frames are refined at input size x this, each side resampled to the nearest multiple of 64 "
    "(the UNets need it; the aspect ratio may change slightly inside, never in the output). Default: the "
    "preset's runtime.resize (vc2, ad2, sfi: 2.0 as in the paper; toy: 1.0)."))]
Scale = Annotated[Optional[float], Opt("--scale", metavar="FACTOR", min=0.05, max=8.0, rich_help_panel=IO, help=(
    "Output size = input size x this (like Real-ESRGAN's --outscale). Default: 1, the input's own size; odd "
    "sides of an MP4 are rounded down to even (H.264 yuv420p)."))]
Size = Annotated[Optional[str], Opt("--size", metavar="WxH", rich_help_panel=IO, help=(
    "Output size in pixels, instead of --scale, e.g. 1024x640."))]
Fmt = Annotated[Format, Opt("--format", metavar="mp4|png", rich_help_panel=IO, help=(
    "mp4 (H.264, yuv420p) or png (a folder of lossless frames)."))]
Crf = Annotated[int, Opt("--crf", metavar="N", min=0, max=51, rich_help_panel=IO, help="H.264 quality (lower is better).")]
Overwrite = Annotated[bool, Opt("--overwrite", metavar="", rich_help_panel=BATCH, help=(
    "Redo outputs that already exist (default: skip them)."))]
ResumeOpt = Annotated[Resume, Opt("--resume", metavar="same|any", rich_help_panel=BATCH, help=(
    "Which existing outputs a rerun skips. same: those made with this run's settings (preset values, models, "
    "seed, sizes, format) and that video's prompt, as each MP4's comment tag records; one made otherwise fails "
    "with a line saying so. any: every existing output. Either way, an output whose input file changed is "
    "refined again."))]
Log = Annotated[Optional[Path], Opt("--log", metavar="FILE", rich_help_panel=BATCH, help=(
    "Append one JSON record per video (timings, calls, status). {shard} in the name becomes K-of-N (or all): "
    "one log per task of a job array."))]
Devices = Annotated[Optional[str], Opt("--devices", metavar="DEVICES", rich_help_panel=DEVICES, help=(
    "Comma-separated devices, one worker each, e.g. cuda:0,cuda:1 or cpu,cpu. Default: every visible GPU, else "
    "the CPU."))]
Ray = Annotated[bool, Opt("--ray", metavar="", rich_help_panel=DEVICES, help=(
    "Run on a Ray cluster: one actor per GPU it offers (CPU actors if it has none). Inputs and --out must be on "
    "a filesystem every node sees. Needs pip install 'evs_cli\\[ray]'."))]
RayAddress = Annotated[Optional[str], Opt("--ray-address", metavar="ADDRESS", rich_help_panel=DEVICES, help=(
    "With --ray: the cluster to join. Default: RAY_ADDRESS, else the cluster `ray start` left on this machine, "
    "else a new local one."))]
RayWorkers = Annotated[Optional[int], Opt("--ray-workers", min=1, metavar="N", rich_help_panel=DEVICES, help=(
    "With --ray: at most N actors. Default: one per GPU (one per node on a CPU cluster)."))]
Shard = Annotated[Optional[str], Opt("--shard", metavar="K/N", rich_help_panel=BATCH, help=(
    "Keep only shard K of N (0 <= K < N) of the videos, by a stable hash of their relative paths: one shard per "
    "task of a job array (e.g. --shard $SLURM_ARRAY_TASK_ID/8)."))]
DryRun = Annotated[bool, Opt("--dry-run", metavar="", rich_help_panel=BATCH, help=(
    "Print the resolved stages and what would happen to each input (output, prompt, refine or skip); loads no "
    "model."))]
Quiet = Annotated[bool, Opt("--quiet", "-q", metavar="", rich_help_panel=BATCH, help="Print nothing but errors.")]
Evaluate = Annotated[bool, Opt("--eval", metavar="", rich_help_panel=BATCH, help=(
    "Add each output's weight-free metrics (see `evs eval`) to its log record."))]
Lease = Annotated[float, Opt("--lease", "--stale-after", metavar="SECONDS", min=4.0, rich_help_panel=BATCH, help=(
    "A run renews its claim on each output it works on every quarter of this; another run's claim not renewed "
    "for this long is taken over (a dead run on this machine is seen at once)."))]
Timeout = Annotated[Optional[str], Opt("--timeout", metavar="SECONDS|auto", rich_help_panel=BATCH, help=(
    "Fail a video that takes longer than this (0: never), alone, and go on with the batch. auto (the preset's "
    "runtime.video_timeout, default): 5 min + 5 s per megapixel-frame on a GPU, 500 s per megapixel-frame on "
    "a CPU."))]
Wait = Annotated[bool, Opt("--wait", metavar="", rich_help_panel=BATCH, help=(
    "Wait for videos another live run is refining (and take over those whose run dies) instead of leaving "
    "them to it and exiting 75."))]
SeedPerVideo = Annotated[Switch, Opt("--seed-per-video", metavar="on|off", rich_help_panel=MODELS, help=(
    "on: each video's noise seed is derived from --seed and its relative path (stable across runs and machines; "
    "VBench's five samples of a prompt get different noise); off: every video uses --seed."))]
MaxPixels = Annotated[int, Opt("--max-pixels", metavar="PIXELS", min=1, rich_help_panel=SPEED, help=(
    "Refuse a video whose frames, after --resize, have more pixels than this (checked before decoding it; the "
    "default is 2048x2048)."))]
MaxMemory = Annotated[str, Opt("--max-memory", metavar="SIZE", rich_help_panel=SPEED, help=(
    "Refuse a video whose estimated memory need (from its header: frames x sizes, before decoding) is over SIZE "
    "(e.g. 16G). auto: what the host, its cgroup (SLURM, containers) and the device have free when the video "
    "starts."))]

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

    if ray and devices:
        fail("--ray and --devices do not go together: on a cluster, every GPU of every node is used")
    if not ray and (ray_address or ray_workers):
        fail(f"{'--ray-address' if ray_address else '--ray-workers'} needs --ray")
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
    where = Execution(tuple(d.strip() for d in (devices or "").split(",") if d.strip()), ray, ray_address, ray_workers)
    request = Request(tuple(found), options, out, k_of_n, where, log_of_shard(log, k_of_n), quiet, tuple(listed),
                      base)
    raise typer.Exit(refine_request(request, prompts, dry_run, shard))


def check_folders(base: Path | None, compile_cache: Path | None) -> None:
    """--base names a folder and --compile-cache one that can be made (refine and tune take both)."""
    if base is not None and not base.is_dir():
        raise EvsError(f"--base: {base} is not a folder")
    if compile_cache is not None and (why := unusable(compile_cache)):
        raise EvsError(f"--compile-cache {compile_cache}: {why}")


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


def expand_inputs(inputs: list[str], from_list: Path | None) -> tuple[list[str], list[str]]:
    """(the command line's inputs, the paths listed on stdin for '-' and in --from)."""
    from ..io.inputs import read_input_list

    named: list[str] = []
    listed: list[str] = []
    for a in inputs:
        _not_a_flag_value(a)
        if a == "-":
            listed += read_input_list("-", sys.stdin)
        else:
            named.append(a)
    if from_list is not None:
        listed += read_input_list(str(from_list))
    if not named and not listed:
        raise EvsError("no inputs: name video files, folders or globs, - for stdin, or --from LIST")
    return named, listed


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
