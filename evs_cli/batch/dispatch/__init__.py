"""Dispatching a planned run: the one seam between the videos and where they run, and its backends.

    seam.py        the Backend interface, and the Seam that keeps the ledger by the workers' events
    ledger.py      which worker holds which video; what a worker's death does to each (retry or fail, once)
    pool.py        the local backends: one worker per device (InProcess for one, or spawned processes)
    cluster.py     the Ray backend: actors planned from the cluster's resources, replaced when one dies
    actor.py       a worker as a Ray actor
    ray_connect.py joining a Ray cluster (and failing in seconds where Ray would wait for minutes)
    signals.py     SIGINT and SIGTERM as one KeyboardInterrupt
"""
