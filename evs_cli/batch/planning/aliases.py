"""Another path to a video already in the run (a symlink in a VBench-style tree, `subject/x-0.mp4` ->
`overall/x-0.mp4`): the video is refined once, and each other path gets its own output as a hard link of the
result (a copy where the filesystem has no hard links), put in place by one rename under the path's claim.

An alias is settled after its video: linked when the video's output is there (refined now, or skipped as
done), held when another run holds the video, failed (one line naming both) when the video failed. An alias
whose output already exists is judged as any output is (plan.decide): skipped when it is done.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from ...errors import EvsError, first_line
from ..record import VideoRecord, closed_record
from ..worker.claims import Claim, this_process
from .outputs import create_temp, discard, publish, remove_others_temps
from .plan import Action, decide, prompt_for


def settle_aliases(plan, record) -> None:
    """`record(rec)` once for each alias of the plan, after its video's own record was made."""
    done = replace(plan.options.output, overwrite=False)  # is the video's output there now (made this run)?
    video_now = {}
    for alias, job in plan.aliases:
        if job.output not in video_now:
            video_now[job.output] = decide(job, done, plan.settings, prompt_for(job, plan.options.prompts),
                                           plan.legacy).action
        record(_settle(alias, job, video_now[job.output], plan))


def _settle(alias, job, video_now, plan) -> VideoRecord:
    d = decide(alias, plan.options.output, plan.settings, prompt_for(alias, plan.options.prompts), plan.legacy)
    if d.action is not Action.REFINE:
        return d.record(alias, plan.settings)
    lease = plan.options.limits.lease
    if video_now is not Action.SKIP:  # the video has no output of these settings: nothing to link
        if Claim(job.output, lease).live_holder():
            return closed_record(alias, "held", reason=f"another live run holds {job.output}, its video's output")
        return closed_record(alias, "failed", error=f"{alias.input}: not written: it is the same file as "
                                                    f"{job.input}, which has no output of this run's settings")
    claim = Claim(alias.output, lease)
    try:
        if not claim.acquire():
            return closed_record(alias, "held", reason="another live run holds it")
        owner = this_process().token  # the claims' owner token, as the worker names its temporary files
        remove_others_temps(alias.output, owner)
        how = link_whole(job.output, alias.output, owner)
    except (EvsError, OSError) as e:
        return closed_record(alias, "failed", error=f"{alias.input}: {alias.output}: {first_line(e)}")
    finally:
        claim.release()
    return closed_record(alias, "ok", linked_from=str(job.output), reason=f"same file as {job.input}: {how}")


def link_whole(source: Path, final: Path, owner: str) -> str:
    """`final` as a hard link of `source` (a copy across filesystems, or of a png folder), in one rename."""
    tmp = create_temp(final, owner, folder=source.is_dir())
    try:
        if source.is_dir():
            os.rmdir(tmp)
            shutil.copytree(source, tmp)
            how = "copied"
        else:
            try:
                os.unlink(tmp)
                os.link(source, tmp)
                how = "hard link"
            except OSError:  # another filesystem, or one without hard links
                shutil.copyfile(source, tmp)
                how = "copied"
        publish(tmp, final)
        return how
    finally:
        discard(tmp)
