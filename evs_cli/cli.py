"""The `evs` command line."""

from __future__ import annotations

import os

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # library chatter would drown our one-line errors
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import List, Optional  # noqa: E402

import typer  # noqa: E402
import yaml  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from .errors import EvsError  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode="rich", pretty_exceptions_enable=False,
    help="Refine AI-generated videos with a T2I and a T2V diffusion model (EVS, Su et al.).\n\n"
         "Exit codes: 0 all refined or skipped, 1 some video failed, 2 usage or setup error, 130 interrupted.",
)
presets_app = typer.Typer(help="List the shipped presets and print one, resolved.", no_args_is_help=True)
app.add_typer(presets_app, name="presets")


def _console() -> Console:
    """Tables for stdout; wide when piped so that nothing a script may grep for is cut."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _fail(msg: str, code: int = EXIT_USAGE):
    print(f"evs: error: {msg}", file=sys.stderr)
    raise typer.Exit(code)


def _resolve_preset(preset: str, sets: list[str], t2i, t2v, tokenizer, dtype, resize):
    from .preset import load_preset, parse_override

    overrides = [parse_override(s) for s in sets]
    models = {k: v for k, v in (("t2i", t2i), ("t2v", t2v), ("tokenizer", tokenizer)) if v is not None}
    runtime = {k: v for k, v in (("dtype", dtype), ("resize", resize)) if v is not None}
    if models:
        overrides.append({"models": models})
    if runtime:
        overrides.append({"runtime": runtime})
    return load_preset(preset).with_overrides(overrides)


@app.command(no_args_is_help=True, epilog=(
    "Examples:\n\n"
    "  evs refine clip.mp4 --prompt 'a corgi running on the beach'\n\n"
    "  evs refine vbench_videos/ --preset vc2 --out refined/ --log refined/timing.jsonl\n\n"
    "  evs refine in/ --preset ad2 --set tV=4 --devices cuda:0,cuda:1\n\n"
    "  evs refine clip.mp4 --preset sfi --dry-run"))
def refine(
    inputs: List[str] = typer.Argument(..., help="Video files (mp4 mov mkv webm avi gif), folders (searched "
                                                 "recursively) or quoted globs."),
    preset: str = typer.Option("vc2", "--preset", "-p", help="Shipped preset name (see `evs presets list`) or a YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (input's relative paths and file "
                                       "names kept, VBench-ready) or, for one input, a file. Default: ./evs-out"),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="One prompt for every video."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", help="JSON object or CSV/TSV of name -> prompt, or "
                                           "VBench's prompt-list JSON. Else a sidecar <video>.txt, else VBench's "
                                           "<prompt>-<index>.mp4 file name."),
    sets: List[str] = typer.Option([], "--set", help="Override a preset key, e.g. tV=4, nV=2, t2i.guidance=5 "
                                   "(repeatable)."),
    t2i: Optional[str] = typer.Option(None, "--t2i", help="T2I model: hub id, diffusers folder or .safetensors file."),
    t2v: Optional[str] = typer.Option(None, "--t2v", help="T2V motion adapter: hub id (repo or repo:file), folder "
                                      "or .safetensors file."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="CLIP tokenizer folder or hub id (for single-file "
                                            "T2I checkpoints)."),
    seed: int = typer.Option(0, "--seed", help="Noise seed; the same seed gives the same output."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="fp16, bf16 or fp32 on GPUs (CPU workers use fp32)."),
    resize: Optional[float] = typer.Option(None, "--resize", help="Scale factor before refining (paper: 2.0); sides "
                                           "are rounded to multiples of 64."),
    fmt: str = typer.Option("mp4", "--format", help="mp4 (H.264, yuv420p) or png (a folder of lossless frames)."),
    crf: int = typer.Option(17, "--crf", min=0, max=51, help="H.264 quality (lower is better)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo outputs that already exist (default: skip them)."),
    log: Optional[Path] = typer.Option(None, "--log", help="Append one JSON record per video (timings, calls, status)."),
    devices: Optional[str] = typer.Option(None, "--devices", help="Comma-separated devices, one worker each, e.g. "
                                          "cuda:0,cuda:1 or cpu,cpu. Default: every visible GPU, else the CPU."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved stages and exit; loads no model."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    evaluate: bool = typer.Option(False, "--eval", help="Add each output's weight-free metrics (see `evs eval`) "
                                  "to its log record."),
    stale_after: float = typer.Option(6 * 3600, "--stale-after", help="Seconds after which another run's claim on "
                                      "an output is considered abandoned."),
):
    """Refine videos: T2I + [T2V] + T2I, as the preset's schedule says."""
    from .outputs import find_inputs, plan_jobs
    from .prompts import load_prompt_table

    if fmt not in ("mp4", "png"):
        _fail(f"--format must be mp4 or png, got {fmt!r}")
    try:
        p = _resolve_preset(preset, sets, t2i, t2v, tokenizer, dtype, resize)
        if dry_run:
            _print_stages(p)
            raise typer.Exit(EXIT_OK)
        jobs = plan_jobs(find_inputs(inputs), out, fmt)
        table = load_prompt_table(prompts) if prompts else {}
    except EvsError as e:
        _fail(str(e))
    if not jobs:
        _fail("no video files found in " + ", ".join(inputs))
    from .job import RunOptions
    from .pool import default_devices, run_jobs
    from .report import Reporter

    devs = [d.strip() for d in devices.split(",") if d.strip()] if devices else default_devices()
    options = RunOptions(p, seed, crf, fmt, overwrite, prompt, table, stale_after, evaluate)
    try:
        reporter = Reporter(jobs, log, quiet, _stages(p))
    except EvsError as e:
        _fail(str(e))
    try:
        run_jobs(jobs, devs, options, reporter)
    except KeyboardInterrupt:
        reporter.close()
        print("evs: interrupted; unfinished outputs were not written", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED)
    except EvsError as e:
        reporter.close()
        _fail(str(e))
    counts = reporter.close()
    if reporter.fatal and len(reporter.fatal) == len(devs):
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_FAILED if counts.get("failed") else EXIT_OK)


def _stages(p):
    from .stages import build_stages

    return build_stages(p.schedule_params())


def _dry_grids(p):
    """The preset's grids from the SD1.5 scheduler config shipped with evs: no model is loaded."""
    import json

    from .engine import preset_grids
    from .models import SD15_CONFIG

    return preset_grids(p, json.loads((SD15_CONFIG / "scheduler" / "scheduler_config.json").read_text()))


def _print_stages(p) -> None:
    from .stages import count_calls

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
    _console().print(t)
    n = count_calls(stages)
    print(f"model calls: t2i {n['t2i']}, t2v {n['t2v']}, inversion t2i {n['t2i_inversion']}, "
          f"t2v {n['t2v_inversion']}; t2i guidance {p.t2i.guidance} "
          f"({'one batched cond+uncond pass' if p.t2i.guidance != 1 else 'no uncond pass'}), "
          f"t2v guidance {p.t2v.guidance} ({'one batched cond+uncond pass' if p.t2v.guidance != 1 else 'no uncond pass'})")
    print(f"models: t2i {p.t2i_model}; t2v {p.t2v_model}")


@app.command("eval", no_args_is_help=True, epilog=(
    "Examples:\n\n"
    "  evs eval refined/ --reference originals/ --json scores.json\n\n"
    "  evs eval inputs/ refined_t2i/ refined_evs/ --log refined_evs.jsonl   (one row per folder)"))
def eval_cmd(
    targets: List[str] = typer.Argument(..., help="Videos or folders; several folders are compared side by side."),
    reference: Optional[Path] = typer.Option(None, "--reference", help="A video, or a folder matched by relative "
                                             "path / file name, for PSNR and SSIM."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write per-video rows and per-folder means."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Write per-video rows."),
    logs: List[Path] = typer.Option([], "--log", help="Timing logs of `evs refine` (adds mean seconds per folder)."),
    flow: str = typer.Option("dis", "--flow", help="Optical flow: dis or farneback."),
    dino: Optional[str] = typer.Option(None, "--dino", help="DINO ViT-B/16 folder or cached hub id for VBench "
                                       "subject consistency (default: $EVS_DINO, else facebook/dino-vitb16 if "
                                       "cached). Skipped, with one line saying so, when absent."),
    ap_head: Optional[str] = typer.Option(None, "--ap-head", help="Aesthetic Predictor v2.5 head "
                                          "(aesthetic_predictor_v2_5.pth; default $EVS_AP_HEAD)."),
    ap_encoder: Optional[str] = typer.Option(None, "--ap-encoder", help="SigLIP so400m-patch14-384 folder or cached "
                                             "hub id (default $EVS_AP_ENCODER, else google/siglip-so400m-patch14-384)."),
    amt: Optional[str] = typer.Option(None, "--amt", help="AMT-S checkpoint (amt-s.pth) for VBench motion smoothness "
                                      "(default $EVS_AMT, else amt_model/amt-s.pth in VBench's cache, "
                                      "$VBENCH_CACHE_DIR or ~/.cache/vbench, else the Hugging Face cache of "
                                      "lalala125/AMT)."),
    dover: Optional[str] = typer.Option(None, "--dover", help="DOVER checkpoint (DOVER.pth) for the DOVER video "
                                        "quality score, 0-100 (default $EVS_DOVER)."),
    device: Optional[str] = typer.Option(None, "--device", help="Where the weighted metrics run (default: cuda "
                                         "if available, else cpu)."),
):
    """Measure videos. Without any weights: warping error and flicker (optical flow, occlusions masked),
    sharpness (variance of the Laplacian), and PSNR / SSIM against a reference. With weights present
    locally, also the paper's metrics as VBench and their authors compute them: motion_smoothness (AMT-S),
    subject_consistency (DINO), dover (DOVER, 0-100), aesthetic (Aesthetic Predictor v2.5), and overall
    (the mean of the four, normalised) when all four are there; a metric whose weights are missing is
    skipped with one line saying how to enable it.

    warp_error and flicker: lower is more consistent; everything else: higher is better."""
    from .evaluate import COLUMNS, evaluate, summarize, timing_by_group, write_csv, write_json

    if flow not in ("dis", "farneback"):
        _fail(f"--flow must be dis or farneback, got {flow!r}")
    try:
        import torch

        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        rows = evaluate(targets, reference, flow, _weighted_scorers(dev, amt, dino, ap_encoder, ap_head, dover))
        timing = timing_by_group(targets, logs)
    except EvsError as e:
        _fail(str(e))
    summary = summarize(rows, targets, timing)
    con = _console()
    for r in rows:
        if "error" in r:
            print(f"evs: error: {r['error']}", file=sys.stderr)
        for reason in r.get("skipped", {}).values():
            print(f"evs: {r['video']}: {reason}", file=sys.stderr)
    cols = [c for c in COLUMNS if any(c in r for r in rows)]
    if len(targets) == 1 and len(rows) > 1:
        t = Table(title="per video", title_justify="left")
        for c in ("video", *cols):
            t.add_column(c)
        for r in rows:
            if "error" not in r:
                t.add_row(Path(r["video"]).name, *(f"{r[c]:.4f}" if c in r else "-" for c in cols))
        con.print(t)
    t = Table(title="mean per folder" if len(targets) > 1 or len(rows) > 1 else None, title_justify="left")
    extra = ["seconds"] if timing else []
    for c in ("input", "videos", *cols, *extra):
        t.add_column(c)
    for s in summary:
        t.add_row(s["group"], str(s["videos"]), *(f"{s[c]:.4f}" if c in s else "-" for c in (*cols, *extra)))
    con.print(t)
    if json_out:
        write_json(json_out, rows, summary)
    if csv_out:
        write_csv(csv_out, rows)
    raise typer.Exit(EXIT_FAILED if any("error" in r for r in rows) else EXIT_OK)


def _weighted_scorers(device, amt, dino, ap_encoder, ap_head, dover) -> dict:
    """Scorers for the metrics whose weights are present locally; one line per metric skipped, saying why."""
    from .dover import dover_score, load_dover
    from .vbench_metrics import (aesthetic_score, load_aesthetic, load_amt, load_dino, motion_smoothness,
                                 subject_consistency)

    scorers = {}
    for name, load, score in (("motion_smoothness", lambda: load_amt(amt, device), motion_smoothness),
                              ("subject_consistency", lambda: load_dino(dino, device), subject_consistency),
                              ("dover", lambda: load_dover(dover, device), dover_score),
                              ("aesthetic", lambda: load_aesthetic(ap_encoder, ap_head, device), aesthetic_score)):
        try:
            model = load()
        except EvsError as e:
            print(f"evs: {e}", file=sys.stderr)
            continue
        scorers[name] = lambda frames, model=model, score=score: score(frames, model)
    return scorers


@app.command("compare", no_args_is_help=True, epilog="Example:\n\n  evs compare in.mp4 out_t2i.mp4 out_evs.mp4 "
             "--png sheet.png --plot curves.png --mp4 side.mp4")
def compare_cmd(
    videos: List[Path] = typer.Argument(..., help="Two or more videos, shown top to bottom."),
    png: Path = typer.Option(..., "--png", help="Contact sheet: a row of sampled frames per video plus an "
                             "enlarged centre crop."),
    mp4: Optional[Path] = typer.Option(None, "--mp4", help="Side-by-side video with labels."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Per-frame warping error of each video."),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated row labels (default: file names)."),
    frames: int = typer.Option(6, "--frames", min=1, help="Frames sampled per row."),
    zoom: int = typer.Option(2, "--zoom", min=1, max=8, help="Enlargement of the crop."),
):
    """Show what refinement did: videos as labelled rows, detail and flicker side by side."""
    from .compare import contact_sheet, error_plot, load, per_frame_errors, side_by_side

    names = labels.split(",") if labels else [v.stem for v in videos]
    if len(names) != len(videos):
        _fail(f"--labels has {len(names)} labels for {len(videos)} videos")
    try:
        vids = load(videos)
        from .video import read_video

        fps = read_video(videos[0]).fps
    except EvsError as e:
        _fail(str(e))
    contact_sheet(vids, names, frames, zoom).save(png)
    if plot:
        error_plot(per_frame_errors(vids, names)).save(plot)
    if mp4:
        side_by_side(vids, names, mp4, fps)


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("evs-demo"), "--out", "-o", help="Folder for the results."),
    device: str = typer.Option("cpu", "--device", help="Torch device; the toy models are small enough for a CPU."),
    seed: int = typer.Option(0, "--seed"),
):
    """Refine the bundled toy sample with the bundled toy models (no download, CPU, under a minute).

    Writes t2i.mp4, t2v.mp4, evs.mp4, compare.png (rows: input, T2I, T2V, EVS, clean source) and
    warping_error.png to --out, and prints consistency, imaging and fidelity for each."""
    from .toy.bench import LABELS
    from .toy.demo import run_demo

    try:
        rows, written = run_demo(out, device, seed)
    except EvsError as e:
        _fail(str(e))
    t = Table(title="toy sample: consistency (lower is better), imaging and fidelity (higher is better)",
              title_justify="left")
    for col in ("method", "warp error", "flicker", "sharpness", "PSNR vs clean", "seconds"):
        t.add_column(col)
    for c, r in rows.items():
        t.add_row(LABELS[c], f"{r['warp_error']:.4f}", f"{r['flicker']:.4f}", f"{r['sharpness']:.1f}",
                  f"{r['psnr']:.2f}", f"{r['seconds']:.2f}")
    _console().print(t)
    print("wrote " + ", ".join(str(p) for p in written))


@presets_app.command("list")
def presets_list():
    """The shipped presets with what each is for."""
    from .preset import list_presets, load_preset

    t = Table(show_header=True)
    t.add_column("name")
    t.add_column("description")
    for name in list_presets():
        t.add_row(name, load_preset(name).data["description"])
    _console().print(t)


@presets_app.command("show")
def presets_show(name: str = typer.Argument(..., help="Preset name or YAML path."),
                 sets: List[str] = typer.Option([], "--set", help="Overrides to apply first, e.g. tV=4.")):
    """Print a preset as YAML, defaults filled in and overrides applied (a valid preset file itself)."""
    try:
        p = _resolve_preset(name, sets, None, None, None, None, None)
    except EvsError as e:
        _fail(str(e))
    print(yaml.safe_dump(p.data, sort_keys=False), end="")


def main() -> None:
    app(prog_name="evs")


if __name__ == "__main__":
    main()
