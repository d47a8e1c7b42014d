"""tune.jsonl: one JSON record per (video, setting), appended as each is scored, so that a tune that stops
(Ctrl-C, SIGKILL, a full disk) continues where it stopped.

A record counts for a later tune when its `pair` key matches: the setting's fingerprint (the settings
fingerprint `evs refine` writes into its outputs), the video's path below its input and its content, the
reference's content and the flow method. Records of other settings stay in the file and are not used. A last
line cut off mid-write is dropped (with a warning) before anything is appended after it; any other line that is
not a record of the shape evs writes (not JSON, or a `scores` that is not a table of numbers) is refused with one
line naming the file and line, never redone over: the file was changed by something other than evs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import EvsError, read_text

INPUT = "input"  # the setting name of a video's own scores


def pair_key(settings: str, rel: Path, video_sha: str, reference_sha: str | None, flow: str) -> str:
    key = [settings, rel.as_posix(), video_sha, reference_sha, flow]
    if reference_sha is None:  # scored with the detail lost (evs 0.2 on), not the two-sided gap to the input
        key.append("detail_loss")
    text = json.dumps(key)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def _not_a_record(rec) -> str | None:
    """What is wrong with a parsed line, or None for a record of the shape `TuneWorker` writes."""
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, not an object"
    if not isinstance(rec.get("pair"), str):
        return "its pair is not a string"
    scores = rec.get("scores")
    if not isinstance(scores, dict):
        return f"its scores are {json.dumps(scores)}, not a table of measures"
    for name, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"its score {name} is {json.dumps(value)}, not a number"
    return None


class Records:
    def __init__(self, path: Path, warn=lambda message: None):
        self.path = path
        self.by_pair: dict[str, dict] = {}
        if path.exists():
            self._load(warn)

    def _load(self, warn) -> None:
        text = read_text(self.path, "the tune records")
        lines = text.splitlines()
        keep = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if n == len(lines) and not text.endswith("\n"):
                    warn(f"{self.path}: line {n} was cut off (a tune stopped while writing it); dropped")
                    continue
                raise EvsError(f"{self.path}: line {n} is not a JSON record; move the file away to start afresh") \
                    from None
            problem = _not_a_record(rec)
            if problem:  # refused, not redone: a file edited by hand or by another program is the user's to move
                raise EvsError(f"{self.path}: line {n} is not a record evs wrote ({problem}); move the file away "
                               "to start afresh")
            self.by_pair[rec["pair"]] = rec
            keep.append(line)
        if text and not text.endswith("\n"):  # appending after a cut line would glue the next record to it
            from ..batch.planning.outputs import write_whole

            write_whole(self.path, lambda tmp: tmp.write_text("".join(f"{x}\n" for x in keep)))

    def __contains__(self, pair: str) -> bool:
        return pair in self.by_pair

    def get(self, pair: str) -> dict | None:
        return self.by_pair.get(pair)

    def append(self, record: dict) -> None:
        """One whole line, flushed to disk before the next pair starts."""
        line = json.dumps(record, sort_keys=False, default=str) + "\n"
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise EvsError(f"{self.path}: cannot append a record ({e.strerror or e})") from None
        self.by_pair[record["pair"]] = record
