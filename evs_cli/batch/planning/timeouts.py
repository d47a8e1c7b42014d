"""How long one video may take before it fails alone (--timeout, preset runtime.video_timeout), so that no
video can hang a run: a huge clip, a decoder stuck on a damaged file or a dead network mount.

The worker checks its video's deadline between steps (after reading, after each stage, before writing) and
fails it with one line. A worker stuck inside one step (C code that never returns) is killed by whoever
started it once GRACE more has passed: the dispatcher replaces a pool worker or a Ray actor and the batch goes
on; a run with one device in this process ends at once with exit 1, its claims and temporary files released,
and leaves a marker beside the video's output (`<output>.evs-timed-out`: the settings, the input and the
--timeout it was stuck under), so that the rerun fails that video at once, with one line, and finishes the
rest instead of sticking at the same video again. Other settings, another --timeout, a changed input or
--overwrite try it again; its output, once written, removes the marker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...errors import EvsError

READ_LIMIT = 900.0  # seconds a video may take to be read before its own limit is known (auto)


def read_limit(setting) -> float | None:
    """The limit of a video whose worker has not said its own yet (it is still being read)."""
    return READ_LIMIT if setting == "auto" else float(setting) or None


def grace() -> float:
    """Seconds past a video's limit before its worker is killed (EVS_TIMEOUT_GRACE, default 60)."""
    return float(os.environ.get("EVS_TIMEOUT_GRACE", 60))


class TimedOut(EvsError):
    pass


def video_limit(setting, frames: int | None, working: tuple[int, int], device: str) -> float | None:
    """The seconds a video may take: `setting` when it is a number (0: no limit), else (auto) derived from
    its size: 5 minutes plus 5 s per megapixel-frame refined on a GPU (25 times what an H100 needs for the
    paper's schedule), a hundred times that per megapixel-frame on a CPU. None: no limit."""
    if setting != "auto":
        return float(setting) or None
    megapixel_frames = (frames or 1) * working[0] * working[1] / 1e6
    per = 5.0 if device.startswith("cuda") else 500.0
    return 300.0 + per * megapixel_frames


TIMED_OUT_SUFFIX = ".evs-timed-out"


def marker_path(output: Path) -> Path:
    from .outputs import side_base

    return output.with_name(side_base(output) + TIMED_OUT_SUFFIX)


def mark_timed_out(output: Path, video: Path, settings: str, setting) -> None:
    """Remember that `video` was stuck past its limit under these settings and --timeout (best effort: a full
    disk only means the rerun tries it again)."""
    from .outputs import write_whole
    from .settings import input_id

    try:
        made = input_id(video)
        text = json.dumps({"settings": settings, "timeout": str(setting), "input": [made.size, made.mtime_ns, made.sha]})
        # json.dumps writes ASCII, which every encoding writes and reads alike
        write_whole(marker_path(output), lambda tmp: tmp.write_text(text + "\n", "utf-8"))  # pragma: no mutate
    except (OSError, EvsError):
        pass


def timed_out_before(video: Path, output: Path, settings: str, setting) -> str | None:
    """The one line that fails a video stuck in an earlier run with the same settings, --timeout and input."""
    from .settings import InputId

    try:
        mark = json.loads(marker_path(output).read_text(encoding="utf-8"))  # pragma: no mutate (ASCII)
        size, mtime_ns, sha = mark["input"]
        same = mark["settings"] == settings and mark["timeout"] == str(setting) and \
            InputId(size, mtime_ns, sha).matches(video)
    except (OSError, ValueError, KeyError, TypeError):  # none, or not one evs wrote: the video is tried
        return None
    if not same:
        return None
    return (f"{video}: stuck past its time limit in an earlier run with these settings and --timeout; not tried "
            "again (raise --timeout, or pass --overwrite, to try it)")


def clear_timed_out(output: Path) -> None:
    marker_path(output).unlink(missing_ok=True)
