"""Which files a command line names: files, folders (recursive) and globs, each with its relative path."""

from __future__ import annotations

import glob as globlib
import os
from pathlib import Path

from ..errors import EvsError
from .video import VIDEO_SUFFIXES

# Results being written carry this in their name (evs_cli/batch/outputs.py); they are never inputs.
TMP_MARK = ".evs-tmp-"


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
            files = [m for m in matches if m.is_file() and m.suffix.lower() in VIDEO_SUFFIXES]
            if not files:
                raise EvsError(f"{a}: the pattern matches no video file")
            found += [(f, Path(f.name)) for f in files]
        else:
            raise EvsError(f"{a}: no such file or folder")
    seen, unique = set(), []
    for f, rel in found:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append((f, rel))
    return unique
