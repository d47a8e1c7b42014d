"""The options `evs refine` and `evs tune` share (and `evs eval` its --flow), declared once: each as a typed
alias with its help and its help panel, Enums where the choices are fixed (typer lists and checks them), and
the checks of what they name that need no model (folders, input lists)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..batch.options import Format, Resume
from ..engine.runtime.compile_cache import unusable
from ..errors import EvsError


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


class DtypeName(str, Enum):
    AUTO = "auto"
    BF16 = "bf16"
    FP16 = "fp16"
    FP32 = "fp32"


class Flow(str, Enum):
    DIS = "dis"
    FARNEBACK = "farneback"


Dtype = Annotated[Optional[DtypeName], Opt("--dtype", rich_help_panel=SPEED, help=(
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

FlowOpt = Annotated[Flow, Opt("--flow", help="Optical flow for warp error and flicker.")]


def placement(devices: str | None, ray: bool, ray_address: str | None, ray_workers: int | None = None) -> tuple:
    """The --devices list, once the flags of where a run goes fit together (refine and tune take them)."""
    from .app import fail

    if ray and devices:
        fail("--ray and --devices do not go together: on a cluster, every GPU of every node is used")
    if not ray and (ray_address or ray_workers):
        fail(f"{'--ray-address' if ray_address else '--ray-workers'} needs --ray")
    return tuple(d.strip() for d in (devices or "").split(",") if d.strip())


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
