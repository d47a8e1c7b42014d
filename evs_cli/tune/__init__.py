"""`evs tune`: the T2V block's settings chosen for a user's own videos, on a grid, by a stated rule.

    grid.py      the settings tried: the base preset and each valid combination of --grid's values, once each
    sample.py    which videos: a seeded sample spread over the inputs' subfolders
    run.py       the tune planned before any model loads (pairs still to do), then executed, records kept
    work.py      the tune's work on refine's dispatch seam (batch: this process, a process per device, Ray
                 actors, with their retries, watchdog and interrupts): a Result per pair, a Finished per video
    worker.py    one device's share: models loaded once, each video at every setting (engine.shared), scored
    measures.py  what is measured, and on which axis it counts
    choose.py    the points, the Pareto front and the rule that picks one
    records.py   tune.jsonl, one record per (video, setting), appended as each is scored, read back to resume
    report.py    the table, tuned.yaml and tradeoff.png
    finish.py    the end of a tune: the choice over the scored pairs, tuned.yaml and tradeoff.png written whole

Layer rule: imports `evs_cli.errors`, `evs_cli.engine`, `evs_cli.io`, `evs_cli.eval` and `evs_cli.batch`
(options, settings fingerprints, atomic writes, devices, the dispatch seam and its backends); it starts no
process or actor itself; never the toy world or the command line.
"""
