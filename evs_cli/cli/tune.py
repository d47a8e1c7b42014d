"""`evs tune`: refine a sample of the inputs over a grid of settings, score each, pick one by a stated rule,
and write the preset that holds it."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.table import Table

from ..errors import EvsError, one_line
from .app import EXIT_FAILED, EXIT_OK, app, console, fail, resolve_preset, stderr_lines
from .options import (
    T2I,
    T2V,
    Compile,
    CompileCache,
    Devices,
    Dtype,
    Flow,
    FlowOpt,
    FromList,
    Inputs,
    Lora,
    PromptsFile,
    PromptText,
    Quiet,
    Ray,
    RayAddress,
    Resize,
    Seed,
    SeedPerVideo,
    Sets,
    Switch,
    Tokenizer,
    Vae,
    check_folders,
    expand_inputs,
    placement,
)


class Prefer(str, Enum):
    CONSISTENCY = "consistency"
    BALANCED = "balanced"
    IMAGING = "imaging"


Opt = typer.Option
BasePreset = Annotated[str, Opt("--preset", "-p", metavar="NAME|FILE", help=(
    "The preset to start from (shipped name or YAML file); its values fill every key the grid does not set."))]
Out = Annotated[Path, Opt("--out", "-o", metavar="DIR", help=(
    "Where tune.jsonl, tradeoff.png and tuned.yaml go. A rerun with the same DIR continues: pairs already "
    "scored are not refined again."))]
Base = Annotated[Optional[Path], Opt("--base", metavar="DIR", help=(
    "Listed files (- and --from) are named by their path below DIR in tune.jsonl, the sample's outputs and "
    "--reference's matching. Default: the current folder, or the folder they all share when some lie outside it."))]
Sample = Annotated[int, Opt("--sample", min=1, metavar="N", help=(
    "Tune on N of the inputs, a sample seeded by --seed and spread over their subfolders."))]
Grid = Annotated[List[str], Opt("--grid", metavar="KEY=V1,V2,...", help=(
    "Values to try for a preset key (repeat for more keys; their product is tried), e.g. --grid tV=1,2,3 "
    "--grid nV=1,2 --grid composition=evs,t2v. Any schedule key (tI, tT2V, tV, nV, mode, gamma, layers, "
    "composition) or model sampling key (t2i.guidance, t2v.family, ...). Default: around the base preset's "
    "block: tT2V a fifth of tI either side, tV and nV one step either side."))]
PreferOpt = Annotated[Prefer, Opt("--prefer", metavar="consistency|balanced|imaging", help=(
    "Weight of the two axes in the choice: 0.75/0.25, 0.5/0.5 or 0.25/0.75 (consistency/imaging)."))]
Reference = Annotated[Optional[Path], Opt("--reference", metavar="FOLDER", help=(
    "Clean versions of the inputs (matched by relative path or file name), for PSNR, SSIM and the sharpness "
    "gap to them on the imaging axis. Without: the sharpness gap to the input."))]
Weighted = Annotated[bool, Opt("--weighted/--weight-free", help=(
    "Also score with VBench motion smoothness and subject consistency, DOVER and the aesthetic predictor "
    "where their weights are local (as `evs eval` finds them: $EVS_AMT, $EVS_DINO, $EVS_DOVER, "
    "$EVS_AP_HEAD, caches); --weight-free skips looking."))]

EXAMPLES = ("Examples:\n\n"
            "  evs tune vbench_videos/ --preset vc2 --out tune-vc2/\n\n"
            "  evs tune clips/ --preset ad2 --out tune-ad2/ --grid tV=2,3,4,5 --grid nV=1,2 --prefer consistency\n\n"
            "  evs refine vbench_videos/ --preset tune-vc2/tuned.yaml --out refined/")


HELP = ("Find the T2V block's settings for your videos: refine a sample at each setting of a grid (the stages before "
        "the block once per video), score consistency (warp error, flicker) and imaging (PSNR/SSIM against "
        "--reference, else the detail lost against the input), and choose.\n\n"
        "The rule: each measure is an error relative to the video's input (log ratio), an axis is the mean of its "
        "measures, each axis is normalised over the grid and the input (1 best, 0 worst), and the setting nearest "
        "the ideal (1, 1), weighted by --prefer, is chosen (a lower objective is better): among the settings worse "
        "than the input on no measure for most sampled videos, if there are any; and over the base preset only if "
        "it beats it by more than the standard error over the sampled videos.\n\n"
        "Writes DIR/tune.jsonl (a record per video and setting), DIR/tradeoff.png (the settings against the input, "
        "the Pareto front, base and choice) and DIR/tuned.yaml, a preset for `evs refine --preset DIR/tuned.yaml`.")


@app.command(no_args_is_help=True, epilog=EXAMPLES, help=HELP)
def tune(inputs: Inputs = None, from_list: FromList = None, base: Base = None, preset: BasePreset = "vc2",
         out: Out = Path("evs-tune"), sample: Sample = 5, grid: Grid = [], prefer: PreferOpt = Prefer.BALANCED,  # noqa: B006
         reference: Reference = None, prompt: PromptText = None, prompts: PromptsFile = None,
         sets: Sets = [], t2i: T2I = None, t2v: T2V = None, vae: Vae = None, loras: Lora = [],  # noqa: B006
         tokenizer: Tokenizer = None, seed: Seed = 0, seed_per_video: SeedPerVideo = Switch.ON, dtype: Dtype = None,
         compile_blocks: Compile = False, compile_cache: CompileCache = None, resize: Resize = None,
         devices: Devices = None, ray: Ray = False, ray_address: RayAddress = None, flow: FlowOpt = Flow.DIS,
         weighted: Weighted = True, quiet: Quiet = False):
    """Find the T2V block's settings for your videos (see HELP for what `evs tune --help` says)."""
    from ..batch.options import Prompts, RunOptions, Seeds
    from ..io.prompts import load_prompt_table
    from ..tune.run import TuneRequest, make_plan

    where = placement(devices, ray, ray_address)
    warn = stderr_lines(quiet, "warning: ")
    try:
        if ray:
            from ..batch.dispatch.ray_connect import require_ray

            require_ray()
        p = resolve_preset(preset, sets, t2i, t2v, tokenizer, dtype, resize, compile_blocks, vae, loras)
        named, listed = expand_inputs(inputs or [], from_list)
        check_folders(base, compile_cache)
        table = load_prompt_table(prompts) if prompts is not None else {}
        run = RunOptions(p, prompts=Prompts(prompt, table), seeds=Seeds(seed, seed_per_video is Switch.ON),
                         compile_cache=compile_cache)
        request = TuneRequest(tuple(named), run, out, tuple(listed), base, sample, tuple(grid), prefer.value,
                              reference, flow.value, where, ray, ray_address, weighted)
        plan = make_plan(request, warn)
    except EvsError as e:
        fail(e)
    raise typer.Exit(_run(plan, quiet, warn))


def _run(plan, quiet: bool, warn) -> int:
    from ..tune.finish import choose_and_write
    from ..tune.report import TABLE_NOTE, choice_line, table_rows
    from ..tune.run import TUNED, execute
    from .progress import interruptible, progress_bar

    req = plan.request
    say = stderr_lines(quiet)
    for note in plan.notes:
        say(f"note: {note}")
    done_before = len(plan.videos) * len(plan.settings) - plan.left
    say(f"tuning {len(plan.settings)} settings on {len(plan.videos)} of {plan.found} videos"
        + (f" ({done_before} pairs already scored in {plan.records.path})" if done_before else ""))
    kept = f"every pair scored so far is kept in {plan.records.path}; rerun the same command to continue"
    try:
        with interruptible(kept), progress_bar("tuning") as update:
            outcome = execute(plan, (lambda *a: None) if quiet else update)
    except EvsError as e:
        fail(e)
    for note in outcome.notes:
        say(note)
    for line in outcome.failures:
        print(f"evs: error: {one_line(line)}", file=sys.stderr)
    if outcome.failures:
        print(f"evs: {len(outcome.failures)} of {len(plan.videos)} videos could not be tuned; {TUNED} not written "
              f"({kept})", file=sys.stderr)
        return EXIT_FAILED
    try:
        result = choose_and_write(plan)
    except OSError as e:
        fail(f"{req.out}: cannot write the results ({e.strerror or e})")
    choice = result.choice
    head, rows = table_rows(choice, result.inputs)
    t = Table(*head, title=f"{len(result.inputs)} videos, means; measures: {', '.join(result.measures)}",
              title_justify="left", caption=TABLE_NOTE, caption_justify="left")
    for r in rows:
        t.add_row(*r)
    console().print(t)
    c = outcome.calls
    if c["alone_t2i"] + c["alone_t2v"]:
        saved = c["alone_t2i"] + c["alone_t2v"] - c["t2i"] - c["t2v"]
        say(f"model calls: T2I {c['t2i']}, T2V {c['t2v']}; one setting at a time would make T2I {c['alone_t2i']}, "
            f"T2V {c['alone_t2v']} ({saved} saved by sharing the stages before the block)")
    print(choice_line(choice))
    print(f"preset: {result.tuned}; picture: {result.picture}")
    return EXIT_OK
