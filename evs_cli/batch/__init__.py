"""Many videos, safely: a run planned once, then dispatched to local workers or to Ray actors.

    events.py      what happens during a run, as typed events (workers -> dispatcher -> run ledger): the ground floor
    record.py      a video's log record as one typed object (VideoRecord), from its maker to the log line
    options.py     what a run was asked to do, grouped by concern (RunOptions, Request)
    run.py         execute a plan: pre-flight checks, the backend, each --wait round
    run_ledger.py  what each selected video ended as: the run's one state, its records, and the outcome (exit code)
    run_log.py     the JSON-lines log, one write per record
    report.py      what the run shows: the progress display, plain lines and the summary
    planning/      before any model loads: the plan, outputs, aliases, settings, time and memory limits
    dispatch/      the seam (seam.py), the ledger, and the backends: local processes, Ray actors
    worker/        what a worker does (spec.py, job.py, stream.py), its models and its claims on outputs

Layer rule: imports `evs_cli.errors`, `evs_cli.engine`, `evs_cli.io`, `evs_cli.eval` (for `--eval`)
and its own modules; never the toy world or the command line.
"""
