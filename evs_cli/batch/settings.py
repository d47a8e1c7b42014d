"""Which settings made an output, so that a resume skips only outputs made the way this run would make them.

Every MP4 evs writes carries a short fingerprint of the settings that decide its pixels (preset values,
models, seed, sizes, format), in the container's `comment` tag; the log records it too. A rerun compares
it with its own before skipping an existing output (plan.decide).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

TAG_PREFIX = "evs-settings:"


def fingerprint(options) -> str:
    """16 hex digits of SHA-256 over what changes a result. Left out: devices, dtype, chunk sizes, compile
    (they change speed and rounding, not what was asked for)."""
    d = options.preset.data
    runtime = {k: d["runtime"][k] for k in ("resize", "t2v_window", "t2v_overlap")}
    out, seeds, prompts = options.output, options.seeds, options.prompts
    asked = {"schedule": d["schedule"], "t2i": d["t2i"], "t2v": d["t2v"], "models": d["models"], "runtime": runtime,
             "seed": seeds.base, "seed_per_video": seeds.per_video, "scale": out.scale,
             "size": list(out.size) if out.size else None, "format": out.fmt, "crf": out.crf,
             "prompt": prompts.text, "prompt_table": prompts.table}
    text = json.dumps(asked, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def recorded_fingerprint(output: Path) -> str | None:
    """The fingerprint an MP4 made by evs carries, or None (not an MP4 of ours, an older evs, unreadable)."""
    if not output.is_file():
        return None
    try:
        import av

        with av.open(str(output)) as c:
            comment = c.metadata.get("comment", "")
    except Exception:  # noqa: BLE001 - any unreadable file simply carries no fingerprint
        return None
    return comment[len(TAG_PREFIX):] if comment.startswith(TAG_PREFIX) else None

