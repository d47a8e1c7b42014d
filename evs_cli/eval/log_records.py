"""Reading what `evs refine --log` wrote: the fields that changed their meaning between versions."""

from __future__ import annotations


def video_seconds(rec: dict) -> float | None:
    """A log record's seconds of the video's own steps (reading, refining, writing), without the time it waited
    in the queue between them; a record written before `steps` existed has only its total, which counts the wait."""
    seconds = rec.get("seconds")
    if not isinstance(seconds, dict):
        return None
    value = seconds.get("steps", seconds.get("total"))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
