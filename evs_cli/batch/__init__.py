"""Many videos, safely: a run planned once, then dispatched to local workers or to Ray actors.

    options.py     what a run was asked to do, grouped by concern (RunOptions, Request)
    plan.py        the plan: stages and grids, videos and outputs, one decision per video (decide)
    run.py         execute a plan: pre-flight checks, the log, the backend, the outcome
    dispatch.py    the one seam: the Backend interface and the loop that keeps the ledger by events
    ledger.py      which worker holds which video; what a worker's death does to each (retry or fail, once)
    events.py      what happens during a run, as typed events (workers -> dispatcher -> reporter)
    pool.py        the local backend: one worker per device (in this process, or spawned processes)
    cluster.py     the Ray backend: actors planned from the cluster's resources, replaced when one dies
    actor.py       a worker as a Ray actor
    ray_connect.py joining a Ray cluster (and failing in seconds where Ray would wait for minutes)
    stream.py      read-ahead / write-behind around the device, used by every worker
    job.py         one video from file to file: claim, decode, refine, write, rename (VideoRefiner)
    workers.py     what a worker does, for every backend (refine's RefineWork; tune brings its own)
    model_set.py   a preset's models loaded on one device, once per worker (refine's and tune's)
    work.py        one video's state (open, skipped, failed, done) and its log record, built once
    outputs.py     where each result goes; temporary names (created exclusively) and renames
    aliases.py     another path to a video in the run (a symlink): its output is a link of the one result
    claims.py      which run works on which output: owners known by boot, PID namespace and start time, leases
    settings.py    what made an output (settings fingerprint, prompt, input file) and its comment tag
    timeouts.py    how long a video may take (--timeout) before it fails alone
    memory.py      will a video fit (pixels, host, cgroup and device memory), checked before decoding
    report.py      the progress display, plain lines, the JSON-lines log and the summary
    signals.py     SIGINT and SIGTERM as one KeyboardInterrupt

Layer rule: imports `evs_cli.errors`, `evs_cli.engine`, `evs_cli.io`, `evs_cli.eval` (for `--eval`)
and its own modules; never the toy world or the command line.
"""
