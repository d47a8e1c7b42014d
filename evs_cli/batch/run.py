"""Execute a plan: the checks that need no model but the devices and the output folders, the log, then
the videos the plan refines on local workers or on Ray, and what the run ends as."""

from __future__ import annotations

import sys
import time

from .dispatch.signals import interrupts_as_keyboard
from .planning.plan import Plan
from .run_ledger import Outcome, RunLedger

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
    from .run_log import RunLog

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
    jobs = plan.jobs + [alias for alias, _ in plan.aliases]
    log = RunLog(request.log) if request.log else None  # a log that cannot be opened: before the display starts
    ledger = RunLedger(jobs, Reporter(jobs, request.log, request.quiet, len(plan.stages)), log)
    ledger.record_plan(plan)  # before any model loads
    todo = plan.todo
    made = missing_folders([job.output for job in plan.jobs])  # an interrupted run leaves no empty folder
    try:
        with interrupts_as_keyboard():
            while True:
                if todo:
                    _run(todo, plan, devices, ledger)
                if not (wait and ledger.held):
                    break
                todo = _when_free(plan, ledger)
            ledger.settle_held(plan)  # a video the other run finished meanwhile counts as skipped, not held
            settle_aliases(plan, ledger.closed)  # other paths to a video: a link of its result each
    except KeyboardInterrupt:
        ledger.close()
        return Outcome.INTERRUPTED
    except BaseException:  # a setup error (no actor could start): no summary of a run that did not happen
        ledger.close(summary=bool(ledger.records))
        raise
    finally:
        remove_empty(made)
    ledger.close()
    return ledger.outcome(0 if ex.ray else len(devices))


def _run(todo: list, plan: Plan, devices: list[str], ledger: RunLedger) -> None:
    from .worker.spec import RefineWork

    ex = plan.request.execution
    ledger.reporter.loading(plan.options.preset, "the Ray cluster" if ex.ray else ", ".join(devices))
    work = RefineWork(plan.options, tuple(todo))
    if ex.ray:
        from .dispatch.cluster import run_on_ray

        run_on_ray(todo, work, ledger, ex.ray_address, ex.ray_workers)
    else:
        from .dispatch.pool import run_jobs

        run_jobs(todo, devices, work, ledger)


def _when_free(plan: Plan, ledger: RunLedger) -> list:
    """Wait until some held video's claim is free (or stale), judge those again, and return the ones to refine."""
    from .worker.claims import Claim

    ledger.reporter.waiting(len(ledger.held))
    while True:
        free = [j for j in ledger.held if not Claim(j.output, plan.options.limits.lease).live_holder()]
        if free:
            break
        time.sleep(POLL)
    return ledger.judge_again(free, plan)
