"""What `evs refine` does with its request: plan it, then print the plan (--dry-run) or execute it, and turn
what happened into the exit code a shell loop reads."""

from __future__ import annotations

import sys

from ..batch.options import Request
from ..errors import EvsError, one_line
from .app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TEMPFAIL, EXIT_USAGE, fail


def refine_request(request: Request, prompts_file, dry_run: bool, shard_text: str | None) -> int:
    from ..batch.planning.plan import make_plan, named
    from ..batch.run import Outcome, execute

    try:
        plan = make_plan(request, prompts_file)
    except EvsError as e:
        fail(e)
    if not request.quiet:
        for note in plan.notes:
            print(f"evs: note: {one_line(note)}", file=sys.stderr)
    if not plan.jobs:
        if not request.quiet:
            print(f"evs: shard {shard_text} holds none of the videos in {named(request.inputs + request.listed)}",
                  file=sys.stderr)
        return EXIT_OK
    if dry_run:
        from .dry_run import print_plan

        return print_plan(plan)
    try:
        outcome = execute(plan)
    except EvsError as e:
        fail(e)
    if outcome is Outcome.INTERRUPTED:
        print("evs: interrupted; unfinished outputs were not written", file=sys.stderr)
    return {Outcome.OK: EXIT_OK, Outcome.FAILED: EXIT_FAILED, Outcome.HELD: EXIT_TEMPFAIL, Outcome.SETUP: EXIT_USAGE,
            Outcome.INTERRUPTED: EXIT_INTERRUPTED}[outcome]
