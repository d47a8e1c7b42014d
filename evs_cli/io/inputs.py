"""Which files a command line names: files, folders (recursive) and globs, each with its relative path."""

from __future__ import annotations

import glob as globlib
import os
from pathlib import Path

from ..errors import EvsError, read_text

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif")  # what a folder input is searched for

# Results being written carry this in their name (evs_cli/batch/outputs.py); they are never inputs.
TMP_MARK = ".evs-tmp-"


def _fixed_prefix(pattern: str) -> Path:
    """The folder a glob starts from: its leading components without a wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def read_input_list(source: str, stream=None) -> list[str]:
    """Paths from a list file, or from `stream` (stdin) for '-': one a line; blank lines and # comments
    skipped. (`find . -name '*.mp4' | evs refine -`, `evs refine --from list.txt`.)"""
    if source == "-":
        import sys

        text = (stream or sys.stdin).read()
    else:
        text = read_text(source, "the input list")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def find_inputs(args: list[str]) -> list[tuple[Path, Path]]:
    """(file, relative path) for files, folders (recursive) and globs; errors name the argument."""
    found: list[tuple[Path, Path]] = []
    for a in args:
        p = Path(a).expanduser()
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES
                           and TMP_MARK not in f.name)
            found += [(f, f.relative_to(p)) for f in files]
        elif p.is_file():
            found.append((p, Path(p.name)))
        elif any(ch in a for ch in "*?["):
            matches = sorted(Path(m) for m in globlib.glob(os.path.expanduser(a), recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in VIDEO_SUFFIXES and TMP_MARK not in m.name]
            if not files:
                raise EvsError(f"{a}: the pattern matches no video file")
            root = _fixed_prefix(os.path.expanduser(a))  # 'vb/**/x*.mp4' keeps sub/ as a folder input would
            found += [(f, f.relative_to(root)) for f in files]
        else:
            raise EvsError(f"{a}: no such file or folder")
    seen, unique = set(), []
    for f, rel in found:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append((f, rel))
    return unique
