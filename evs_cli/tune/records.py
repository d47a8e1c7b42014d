"""tune.jsonl: one JSON record per (video, setting), appended as each is scored, so that a tune that stops
(Ctrl-C, SIGKILL, a full disk) continues where it stopped.

A record counts for a later tune when its `pair` key matches: the setting's fingerprint (the settings
fingerprint `evs refine` writes into its outputs), the video's path below its input and its content, the
reference's content and the flow method. Records of other settings stay in the file and are not used. A last
line cut off mid-write is dropped (with a warning) before anything is appended after it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import EvsError, read_text

INPUT = "input"  # the setting name of a video's own scores


def pair_key(settings: str, rel: Path, video_sha: str, reference_sha: str | None, flow: str) -> str:
    text = json.dumps([settings, rel.as_posix(), video_sha, reference_sha, flow])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


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
            if isinstance(rec, dict) and isinstance(rec.get("pair"), str):
                self.by_pair[rec["pair"]] = rec
            keep.append(line)
        if text and not text.endswith("\n"):  # appending after a cut line would glue the next record to it
            from ..batch.outputs import write_whole

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
