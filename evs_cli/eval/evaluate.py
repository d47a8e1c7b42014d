"""`evs eval`: metrics per video, means per folder, folders side by side (as the paper's Tables 1-2)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import EvsError, read_text
from ..io.inputs import find_inputs
from ..io.video import read_video
from .log_records import video_seconds
from .metrics import weight_free
from .vbench_metrics import overall

COLUMNS = ("warp_error", "flicker", "sharpness", "psnr", "ssim", "motion_smoothness", "subject_consistency",
           "dover", "aesthetic", "overall")


def reference_for(video: Path, rel: Path, reference: Path | None, refs: dict) -> Path | None:
    if reference is None:
        return None
    if reference.is_file():
        return reference
    for key in (rel.as_posix(), rel.with_suffix("").as_posix(), video.name, video.stem):
        if key in refs:
            return refs[key]
    raise EvsError(f"{video}: no reference video matching {rel} in {reference}")


def reference_index(reference: Path | None) -> dict[str, Path]:
    """A reference folder's videos by relative path, by it without suffix, by file name and by stem."""
    refs: dict[str, Path] = {}
    if reference is not None and reference.is_dir():
        for f, rel in find_inputs([str(reference)]):
            for key in (rel.as_posix(), rel.with_suffix("").as_posix(), f.name, f.stem):
                refs.setdefault(key, f)
    return refs


def videos_by_group(groups: list[str]) -> list[tuple[str, Path, Path]]:
    """(group, video, its path below the group) for each target; a missing target, or one without any video
    (an output folder a failed run never filled), is an error that names it."""
    found = []
    for g in groups:
        videos = find_inputs([g])
        if not videos:
            raise EvsError(f"{g}: no video files to measure")
        found += [(g, f, rel) for f, rel in videos]
    return found


def evaluate(found: list[tuple[str, Path, Path]], reference: Path | None = None, flow: str = "dis",
             scorers: dict | None = None, progress=None) -> list[dict]:
    """One row per video of `found` (videos_by_group): {"group", "video", "name" (its path below its group),
    metric...}; errors are rows with "error".

    `scorers` adds metrics computed from the same decoded frames: {name: frames -> float}. `progress(done, total)`
    is called before the first video and after each."""
    refs = reference_index(reference)
    rows = []
    for done, (g, f, rel) in enumerate(found):
        if progress:
            progress(done, len(found))
        row = {"group": g, "video": str(f), "name": rel.as_posix()}
        try:
            frames = read_video(f).frames.numpy()
            ref_path = reference_for(f, rel, reference, refs)
            ref = read_video(ref_path).frames.numpy() if ref_path else None
            row.update(weight_free(frames, ref, flow))
            for name, score in (scorers or {}).items():
                try:
                    row[name] = score(frames)
                except EvsError as e:  # this metric can't judge this video (too short, too small)
                    row.setdefault("skipped", {})[name] = str(e)
            if (o := overall(row)) is not None:
                row["overall"] = o
            row["frames"] = int(len(frames))
        except EvsError as e:
            row["error"] = str(e)
        rows.append(row)
    if progress:
        progress(len(found), len(found))
    return rows


def timing_by_group(groups: list[str], logs: list[Path], warn=lambda message: None) -> dict[str, float]:
    """Mean refine seconds of the ok records whose output lies in each group, each output counted once: its
    latest record (a log appended to by a run and its reruns with --overwrite holds several). A last line
    cut off with no newline (a run killed while writing it) is skipped with `warn`; any other line that is
    not JSON is an error."""
    latest: dict[Path, dict] = {}
    for log in logs:
        text = read_text(log, "the log")
        lines = text.splitlines()
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    if n == len(lines) and not text.endswith("\n"):
                        warn(f"{log}: line {n} was cut off (a run stopped while writing it); skipped")
                        continue
                    raise EvsError(f"{log}: line {n} is not a JSON record ({e.msg})") from None
                if isinstance(rec, dict) and rec.get("status") == "ok" and isinstance(rec.get("output"), str) \
                        and video_seconds(rec) is not None:
                    latest[Path(rec["output"]).resolve()] = rec  # only finished records carry a time
    recs = list(latest.values())
    out = {}
    for g in groups:
        root = Path(g).resolve()
        secs = [video_seconds(r) for r in recs
                if (Path(r["output"]).resolve() == root or root in Path(r["output"]).resolve().parents)]
        if secs:
            out[g] = float(np.mean(secs))
    return out


def summarize(rows: list[dict], groups: list[str], timing: dict[str, float]) -> list[dict]:
    out = []
    for g in groups:
        ok = [r for r in rows if r["group"] == g and "error" not in r]
        s = {"group": g, "videos": len(ok), "failed": sum(1 for r in rows if r["group"] == g and "error" in r)}
        for c in COLUMNS:
            vals = [r[c] for r in ok if c in r]
            if vals:
                s[c] = float(np.mean(vals))
        if g in timing:
            s["seconds"] = timing[g]
        out.append(s)
    return out


def write_json(path: Path, rows, summary) -> None:
    path.write_text(json.dumps({"videos": rows, "groups": summary}, indent=1))


def write_csv(path: Path, rows) -> None:
    keys = ["group", "video", "frames", *COLUMNS, "error"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def weighted_scorers(device, amt=None, dino=None, ap_encoder=None, ap_head=None, dover=None,
                     warn=lambda message: None) -> dict:
    """{metric: frames -> float} for the paper's metrics whose weights are present locally (None: each one's
    default place); `warn(line)` once for each metric skipped, saying why and how to enable it."""
    from .dover import dover_score, load_dover
    from .vbench_metrics import (
        aesthetic_score,
        load_aesthetic,
        load_amt,
        load_dino,
        motion_smoothness,
        subject_consistency,
    )

    scorers = {}
    for name, load, score in (("motion_smoothness", lambda: load_amt(amt, device), motion_smoothness),
                              ("subject_consistency", lambda: load_dino(dino, device), subject_consistency),
                              ("dover", lambda: load_dover(dover, device), dover_score),
                              ("aesthetic", lambda: load_aesthetic(ap_encoder, ap_head, device), aesthetic_score)):
        try:
            model = load()
        except EvsError as e:
            warn(str(e))
            continue
        scorers[name] = lambda frames, model=model, score=score: score(frames, model)
    return scorers
