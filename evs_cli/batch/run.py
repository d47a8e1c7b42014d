"""Execute a plan: the checks that need no model but the devices and the output folders, the log, then
the videos the plan refines on local workers or on Ray, and what the run ends as."""

from __future__ import annotations

from enum import Enum

from .plan import Plan


class Outcome(Enum):
    OK = "every selected video has its output"
    FAILED = "some video failed"
    SETUP = "no worker could start"
    INTERRUPTED = "interrupted"


def execute(plan: Plan) -> Outcome:
    """Run the plan. EvsError: a setup problem found before any video was refined (nothing was written)."""
    from ..engine.sources import check_sources
    from .outputs import check_writable
    from .pool import check_devices, default_devices
    from .report import Reporter

    request, preset = plan.request, plan.options.preset
    ex = request.execution
    devices = [] if ex.ray else list(ex.devices) or default_devices()
    check_devices(devices)
    check_writable(plan.jobs)
    check_sources(preset.t2i_model, preset.t2v_model)  # local model paths: cheap, and before any load
    reporter = Reporter(plan.jobs, request.log, request.quiet, len(plan.stages))
    reporter.record_plan(plan)  # before any model loads
    todo = plan.todo
    if todo:
        reporter.loading(preset, "the Ray cluster" if ex.ray else ", ".join(devices))
    try:
        if todo and ex.ray:
            from .cluster import run_on_ray

            run_on_ray(todo, plan.options, reporter, ex.ray_address, ex.ray_workers)
        elif todo:
            from .pool import run_jobs

            run_jobs(todo, devices, plan.options, reporter)
    except KeyboardInterrupt:
        reporter.close()
        return Outcome.INTERRUPTED
    except BaseException:  # a setup error (no actor could start): no summary of a run that did not happen
        reporter.close(summary=bool(reporter.records))
        raise
    counts = reporter.close()
    if reporter.fatal and not ex.ray and len(reporter.fatal) == len(devices):
        return Outcome.SETUP
    return Outcome.FAILED if counts.get("failed") else Outcome.OK
