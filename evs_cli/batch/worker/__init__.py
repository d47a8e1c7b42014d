"""A worker: what it does with the videos it is handed, wherever it runs.

    spec.py        what a worker does, for every backend (refine's RefineWork; tune brings its own)
    model_set.py   a preset's models loaded on one device, once per worker (refine's and tune's)
    job.py         one video from file to file: claim, decode, refine, write, rename (VideoRefiner)
    work.py        one video's state (open, skipped, failed, done) and its log record, built once
    stream.py      read-ahead / write-behind around the device, used by every worker
    claims.py      which run works on which output: claim files, leases, take-overs, renewal
    owners.py      who owns a claim (token, boot, PID namespace, PID, start time) and whether it lives here
"""
