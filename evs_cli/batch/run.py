"""Execute a plan: the checks that need no model but the devices and the output folders, the log, then
the videos the plan refines on local workers or on Ray, and what the run ends as."""

from __future__ import annotations

import sys
import time
from enum import Enum

from .dispatch.signals import interrupts_as_keyboard
from .planning.plan import Plan


class Outcome(Enum):
    OK = "every selected video has its output"
    FAILED = "some video failed"
    HELD = "another live run holds some videos; none failed"
    SETUP = "no worker could start"
    INTERRUPTED = "interrupted"


POLL = 1.0  # seconds between looks at the claims --wait waits for


def execute(plan: Plan) -> Outcome:
    """Run the plan. EvsError: a setup problem found before any video was refined (nothing was written).

    With --wait, the videos another live run held are waited for once this run's own are done: each one whose
    claim is released or goes stale is judged again (done by the other run: skipped; its run died: refined)."""
    from ..engine.loaders.family_detect import sampling_note
    from ..engine.loaders.fit import check_models
    from ..engine.loaders.loras import check_lora_files
    from .dispatch.pool import check_devices, default_devices
    from .planning.aliases import settle_aliases
    from .planning.outputs import check_writable, missing_folders, remove_empty
    from .report import Reporter

    request, preset = plan.request, plan.options.preset
    ex = request.execution
    devices = [] if ex.ray else list(ex.devices) or default_devices()
    check_devices(devices)
    check_writable(plan.jobs)
    # local model paths, and hub models cached or downloadable when some video needs them: before any load
    check_models(preset.t2i_model, preset.t2v_model, preset.vae_model, preset.tokenizer, download=bool(plan.todo))
    check_lora_files(preset.t2i.loras + preset.t2v.loras)
    if not request.quiet and (note := sampling_note(preset)):
        print(f"evs: warning: {note}", file=sys.stderr)
    wait = plan.options.limits.wait
    reporter = Reporter(plan.jobs + [alias for alias, _ in plan.aliases], request.log, request.quiet, len(plan.stages))
    reporter.record_plan(plan)  # before any model loads
    todo = plan.todo
    made = missing_folders([job.output for job in plan.jobs])  # an interrupted run leaves no empty folder
    try:
        with interrupts_as_keyboard():
            while True:
                if todo:
                    _run(todo, plan, devices, reporter)
                if not (wait and reporter.held):
                    break
                todo = _when_free(plan, reporter)
            reporter.settle_held(plan)  # a video the other run finished meanwhile counts as skipped, not held
            settle_aliases(plan, reporter.closed)  # other paths to a video: a link of its result each
    except KeyboardInterrupt:
        reporter.close()
        return Outcome.INTERRUPTED
    except BaseException:  # a setup error (no actor could start): no summary of a run that did not happen
        reporter.close(summary=bool(reporter.records))
        raise
    finally:
        remove_empty(made)
    counts = reporter.close()
    return outcome(counts, bool(reporter.log_error), len(reporter.fatal), 0 if ex.ray else len(devices))


def outcome(counts: dict, log_failed: bool, fatal: int, local_devices: int) -> Outcome:
    """What a finished run ends as: no local worker could start; some video failed (or its log could not be
    written); another live run holds some; else every selected video has its output. `counts`: status -> n."""
    if fatal and fatal == local_devices:  # on Ray (no local devices) actors that cannot start fail the run sooner
        return Outcome.SETUP
    if counts.get("failed") or log_failed:
        return Outcome.FAILED
    return Outcome.HELD if counts.get("held") else Outcome.OK


def _run(todo: list, plan: Plan, devices: list[str], reporter) -> None:
    from .worker.spec import RefineWork

    ex = plan.request.execution
    reporter.loading(plan.options.preset, "the Ray cluster" if ex.ray else ", ".join(devices))
    work = RefineWork(plan.options, tuple(todo))
    if ex.ray:
        from .dispatch.cluster import run_on_ray

        run_on_ray(todo, work, reporter, ex.ray_address, ex.ray_workers)
    else:
        from .dispatch.pool import run_jobs

        run_jobs(todo, devices, work, reporter)


def _when_free(plan: Plan, reporter) -> list:
    """Wait until some held video's claim is free (or stale), judge those again, and return the ones to refine."""
    from .worker.claims import Claim

    reporter.waiting(len(reporter.held))
    while True:
        free = [j for j in reporter.held if not Claim(j.output, plan.options.limits.lease).live_holder()]
        if free:
            break
        time.sleep(POLL)
    return reporter.judge_again(free, plan)
