"""`evs compare --html`: one self-contained page that plays every version of each video side by side.

Folders are matched by each video's path below its folder (without the suffix, as refine names its outputs);
the page links to the MP4s by relative paths and carries its data as JSON, so it works offline, moved
together with the folders, and runs no script from anywhere else."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from ..errors import EvsError, read_text
from ..io.inputs import find_inputs
from ..io.prompts import resolve_prompt
from .evaluate import COLUMNS

LOWER_IS_BETTER = ("warp_error", "flicker")


@dataclass
class PageRow:
    name: str  # the video's path below its folder, without the suffix
    videos: list[Path | None]  # one per version; None where that version has no such video
    prompt: str = ""
    scores: list[dict | None] | None = None


def match_versions(versions: list[Path]) -> list[PageRow]:
    """A row per video found in any version, in name order: single files make one row, folders are matched by
    relative path. A version without any video is an error that names it."""
    if all(v.is_file() for v in versions):
        return [PageRow(versions[0].stem, list(versions))]
    rows: dict[str, list[Path | None]] = {}
    for k, folder in enumerate(versions):
        found = find_inputs([str(folder)])
        if not found:
            raise EvsError(f"{folder}: no video files")
        for video, rel in found:
            key = rel.with_suffix("").as_posix()
            slots = rows.setdefault(key, [None] * len(versions))
            if slots[k] is None:  # clip.mp4 and clip.avi in one folder: the first found stands for both
                slots[k] = video
    return [PageRow(name, rows[name]) for name in sorted(rows)]


def add_prompts(rows: list[PageRow], table: dict[str, str] | None = None) -> None:
    """Each row's prompt as refine would find it for the first version's file (a --prompts table, a sidecar
    .txt, a VBench name); none where it has none."""
    for row in rows:
        video = next(v for v in row.videos if v is not None)
        try:
            row.prompt = resolve_prompt(video, Path(row.name + video.suffix), table=table)[0]
        except EvsError:
            row.prompt = ""


def load_scores(files: list[Path]) -> dict[Path, dict[str, float]]:
    """The measures of every video in `evs eval --json` files, by the video's resolved path (as given to eval
    from this folder, else from the JSON's own folder)."""
    scores: dict[Path, dict[str, float]] = {}
    for f in files:
        try:
            data = json.loads(read_text(f, "the scores file"))
        except json.JSONDecodeError as e:
            raise EvsError(f"{f}: not JSON (line {e.lineno}: {e.msg})") from None
        rows = data.get("videos") if isinstance(data, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("video"), str) for r in rows):
            raise EvsError(f"{f}: not a file written by evs eval --json (no list of videos with their paths)")
        for r in rows:
            measures = {m: float(r[m]) for m in COLUMNS
                        if isinstance(r.get(m), (int, float)) and not isinstance(r[m], bool) and math.isfinite(r[m])}
            for where in (Path(r["video"]), f.parent / r["video"]):
                if where.exists():
                    scores[where.resolve()] = measures
                    break
    return scores


def add_scores(rows: list[PageRow], scores: dict[Path, dict[str, float]]) -> int:
    """Each row's measures per version; returns how many videos on the page have some."""
    found = 0
    for row in rows:
        row.scores = [scores.get(v.resolve()) if v is not None else None for v in row.videos]
        found += sum(s is not None for s in row.scores)
    return found


def _link(video: Path, page_folder: Path) -> str:
    rel = os.path.relpath(video.resolve(), page_folder.resolve())
    return "/".join(quote(part) for part in Path(rel).parts)


def render(rows: list[PageRow], labels: list[str], page: Path, title: str) -> str:
    """The page's HTML: the template with the rows' data as JSON (`<` escaped, so no name or prompt can end
    the script element) and the title escaped."""
    measures = [m for m in COLUMNS if any(s and m in s for r in rows for s in (r.scores or []))]
    data = {
        "labels": labels,
        "measures": measures,
        "lower_is_better": [m for m in LOWER_IS_BETTER if m in measures],
        "rows": [{"name": r.name, "prompt": r.prompt,
                  "videos": [_link(v, page.parent) if v is not None else None for v in r.videos],
                  "scores": r.scores or [None] * len(r.videos)} for r in rows],
    }
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    template = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # one pass over both markers, so that a prompt or title holding the other marker is left as it is
    return re.sub(r"__(TITLE|DATA)__", lambda m: safe_title if m[1] == "TITLE" else text, template)
