"""Which settings made an output, so that a resume skips only outputs made the way this run would make them.

Every MP4 evs writes carries a short fingerprint of the settings that decide its pixels (preset values,
models, seed, sizes, format), in the container's `comment` tag; the log records it too. A rerun compares
it with its own before skipping an existing output.
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
    asked = {"schedule": d["schedule"], "t2i": d["t2i"], "t2v": d["t2v"], "models": d["models"], "runtime": runtime,
             "seed": options.seed, "seed_per_video": options.seed_per_video, "scale": options.scale,
             "size": list(options.size) if options.size else None, "format": options.fmt, "crf": options.crf,
             "prompt": options.prompt, "prompt_table": options.prompt_table}
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


def decide_existing(output: Path, settings: str, resume: str) -> tuple[str, str, str | None]:
    """What a run does with an output that exists (without --overwrite): ("skip", why, fingerprint) or ("fail",
    error, fingerprint), with the fingerprint the output records (None if none, or not looked at).

    resume "any" keeps every output; "same" keeps outputs made with `settings`, and those that record none
    (an older evs, a png folder), and fails one made with other settings, saying how to choose."""
    if resume == "any":
        return "skip", "output exists", None
    made_with = recorded_fingerprint(output)
    if made_with == settings:
        return "skip", "output exists, made with the same settings", made_with
    if made_with is None:
        return "skip", "output exists (it records no evs settings: an older evs, or a png folder)", None
    return "fail", (f"{output}: exists, made with other settings ({made_with}; this run: {settings}); "
                    "--overwrite redoes it, --resume any keeps it"), made_with
