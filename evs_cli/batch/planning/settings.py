"""What made an output, so that a rerun skips only outputs made the way it would make them now.

Every MP4 evs writes records, in the container's `comment` tag, three things (the log records them too):
- the settings fingerprint: 16 hex digits over what decides its pixels (preset values, models, seed,
  sizes, format), the same for every video of a run;
- the prompt that video was refined with (a hash of its text): editing one sidecar or one entry of a
  --prompts table touches only that video, and a table that grows touches none;
- the input file it was made from: size, modification time and a hash of its content. A rerun compares size
  and time first (a stat per video: a finished folder of thousands is checked in seconds) and reads the
  content only when they differ (a copy, a `touch`): a replaced input is never taken as done.
A rerun compares them with its own before skipping an existing output (plan.decide).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ...engine.keys import asked_values

TAG_PREFIX = "evs-settings:"


@dataclass(frozen=True)
class InputId:
    """An input file as it was when an output was made from it."""

    size: int
    mtime_ns: int
    sha: str  # SHA-256 of its content, 16 hex digits

    def matches(self, path: Path) -> bool:
        """Whether `path` is still that file: by size and time, and by content only when the time differs."""
        try:
            st = path.stat()
        except OSError:
            return False
        if st.st_size != self.size:
            return False
        return st.st_mtime_ns == self.mtime_ns or content_hash(path) == self.sha


def content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def input_id(path: Path) -> InputId:
    st = os.stat(path)
    return InputId(st.st_size, st.st_mtime_ns, content_hash(path))


def prompt_key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8", "surrogateescape")).hexdigest()[:12]


@dataclass(frozen=True)
class Made:
    """What an output records it was made from; prompt and input are None in outputs of evs 0.1."""

    settings: str
    prompt: str | None = None  # prompt_key of the prompt
    input: InputId | None = None

    def tag(self) -> str:
        """The comment tag: `evs-settings:<settings> prompt:<key> input:<size>:<mtime_ns>:<sha>`."""
        parts = [TAG_PREFIX + self.settings]
        if self.prompt:
            parts.append(f"prompt:{self.prompt}")
        if self.input:
            parts.append(f"input:{self.input.size}:{self.input.mtime_ns}:{self.input.sha}")
        return " ".join(parts)

    @classmethod
    def parse(cls, tag: str) -> Made | None:
        if not tag.startswith(TAG_PREFIX):
            return None
        first, *rest = tag[len(TAG_PREFIX):].split()
        fields = dict(part.split(":", 1) for part in rest if ":" in part)
        made_from = None
        try:
            size, mtime_ns, sha = fields["input"].split(":")
            made_from = InputId(int(size), int(mtime_ns), sha)
        except (KeyError, ValueError):
            pass
        return cls(first, fields.get("prompt"), made_from)


def fingerprint(options, legacy: bool = False) -> str:
    """16 hex digits of SHA-256 over what changes every result of a run: the preset keys engine/keys.py marks as
    asked (not devices, dtype, chunk sizes, compile: they change speed and rounding, not what was asked for),
    seeds and output format, not the prompts (per video: Made).
    `legacy`: the fingerprint evs 0.1 wrote, which also hashed --prompt and the whole --prompts table, so that
    its outputs still count as made with the same settings when nothing changed."""
    d = options.preset.data
    schedule, models, t2i, t2v, runtime = (asked_values(section, d[section])  # engine/keys.py declares which
                                           for section in ("schedule", "models", "t2i", "t2v", "runtime"))
    out, seeds = options.output, options.seeds
    asked = {"schedule": schedule, "t2i": t2i, "t2v": t2v, "models": models, "runtime": runtime,
             "seed": seeds.base, "seed_per_video": seeds.per_video, "scale": out.scale,
             "size": list(out.size) if out.size else None, "format": out.fmt, "crf": out.crf}
    if legacy:
        asked.update(prompt=options.prompts.text, prompt_table=options.prompts.table)
    text = json.dumps(asked, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def recorded(output: Path) -> Made | None:
    """What an MP4 made by evs records, or None (not an MP4 of ours, a png folder, unreadable)."""
    if not output.is_file():
        return None
    try:
        import av

        with av.open(str(output)) as c:
            comment = c.metadata.get("comment")
    except Exception:  # noqa: BLE001 - any unreadable file simply records nothing
        return None
    return Made.parse(comment) if comment else None
