"""Which AnimateDiff family a T2V model is, told from its name or from the shapes its local weights show (a
.safetensors header or a config.json, read without torch), and the note when a preset samples it otherwise."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ...errors import EvsError
from ..families import FAMILIES, matching
from .motion_files import seen_in_weights
from .sources import resolve_source, safetensors_shapes

# Told from the name: Lightning's step count (distilled from v2, it has v2's shape), and AnimateDiff's files.
_LIGHTNING_NAME = re.compile(r"lightning\D*?(\d)[_-]?step", re.IGNORECASE)
_NAMED = ((re.compile(r"animatelcm", re.IGNORECASE), "animatelcm"),
          (re.compile(r"mm_sd_v15_v2|motion-adapter-v1-5-2", re.IGNORECASE), "v2"),
          (re.compile(r"v3_sd15_mm|motion-adapter-v1-5-3", re.IGNORECASE), "v3"),
          (re.compile(r"mm_sd_v1[45]\b|motion-adapter-v1-[45]$", re.IGNORECASE), "v1"))


SD15_WIDTHS = (320, 640, 1280, 1280)  # every SD1.5 motion module's; other widths are no family of these


def family_of_shape(seen: dict) -> str | None:
    """AnimateDiff's family by the shape its weights show, as diffusers' single-file loader tells them apart;
    None for a module of other widths (the toy world's, a custom one)."""
    if tuple(seen.get("block_out_channels", SD15_WIDTHS)) != SD15_WIDTHS:
        return None
    if seen.get("use_motion_mid_block", True):
        return "v2"  # or a model distilled from it (Lightning): only the name can tell
    return {24: "v1", 32: "v3"}.get(seen.get("motion_max_seq_length", 32))


def detect(source: str) -> tuple[str, str] | None:
    """(family, how it was told) for a T2V source: its name, else the shape its local weights or config
    show (a .safetensors header or config.json, read without torch); None when neither tells."""
    named = source.replace("\\", "/").rsplit("/", 1)[-1]  # the file's or repo's own name, not its folders'
    if m := _LIGHTNING_NAME.search(named):
        return f"lightning-{m.group(1)}", "by its name"
    for pattern, name in _NAMED:
        if pattern.search(named):
            return name, "by its name"
    path = Path(source)
    try:
        if path.is_dir() and (path / "config.json").is_file():
            seen = json.loads((path / "config.json").read_text())
        elif path.suffix == ".safetensors" and path.is_file():
            seen = seen_in_weights(safetensors_shapes(path), path)
        else:
            return None
    except (OSError, ValueError, EvsError):
        return None
    name = family_of_shape(seen)
    return (name, "by the shape of its weights") if name else None


def sampling_note(preset) -> str | None:
    """One line when the T2V model looks like a family that this preset, naming none, samples otherwise."""
    if preset.t2v.family is not None:
        return None  # the user chose
    found = detect(resolve_source(preset.t2v_model))
    if not found:
        return None
    name, how = found
    now = matching(preset.data["t2v"])
    if now == name or (name == "v2" and how != "by its name" and now and now.startswith("lightning")):
        return None  # the same, or a v2-shaped Lightning model: its name would have said which
    f = FAMILIES[name]
    return (f"T2V {preset.t2v_model} is, {how}, a {name} motion module, which its authors sample with "
            f"{f.scheduler} over {f.steps} steps at guidance {f.guidance}; this preset samples it "
            f"{'as ' + now if now else 'its own way'} (--set t2v.family={name} samples it as they do)")
