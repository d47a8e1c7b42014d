"""Many videos, safely: where each result goes and how runs share a folder (`outputs`: claims, temporary
names, renames), one video from file to file (`job`), one worker per device (`pool`), and what a run
shows and logs (`report`).

Layer rule: imports `evs_cli.errors`, `evs_cli.engine`, `evs_cli.io`, `evs_cli.eval` (for `--eval`)
and its own modules; never the toy world or the command line.
"""
