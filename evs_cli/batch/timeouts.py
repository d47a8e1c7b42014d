"""How long one video may take before it fails alone (--timeout, preset runtime.video_timeout), so that no
video can hang a run: a huge clip, a decoder stuck on a damaged file or a dead network mount.

The worker checks its video's deadline between steps (after reading, after each stage, before writing) and
fails it with one line. A worker stuck inside one step (C code that never returns) is killed by whoever
started it once GRACE more has passed: the dispatcher replaces a pool worker or a Ray actor and the batch goes
on; a run with one device in this process ends at once with exit 1, its claims and temporary files released,
so that the rerun finishes the rest.
"""

from __future__ import annotations

import os

from ..errors import EvsError

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
