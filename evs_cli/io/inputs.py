"""Which files a command line names: files, folders (recursive) and globs, each with its relative path."""

from __future__ import annotations

import glob as globlib
import os
from pathlib import Path

from ..errors import EvsError, read_text

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif")  # what a folder input is searched for

# Results being written carry this in their name (evs_cli/batch/planning/outputs.py); they are never inputs.
TMP_MARK = ".evs-tmp-"


def _fixed_prefix(pattern: str) -> Path:
    """The folder a glob starts from: its leading components without a wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return Path(*fixed)  # Path() is "."


def read_input_list(source: str, stream=None) -> list[str]:
    """Paths from a list file, or from `stream` (stdin) for '-': one a line; blank lines and # comments
    skipped. (`find . -name '*.mp4' | evs refine -`, `evs refine --from list.txt`.)"""
    if source == "-":
        import sys

        text = (stream or sys.stdin).read()
    else:
        text = read_text(source, "the input list")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def find_inputs(args: list[str], listed: list[str] = (), base: Path | None = None,
                on_duplicate=None) -> list[tuple[Path, Path]]:
    """(file, relative path) for files, folders (recursive) and globs; errors name the argument.

    A file named on the command line is kept by its name; a file from a list (`-`, --from) keeps its path
    below `base` (default: the current folder, or the folder all listed files share when some lie outside
    it), so `d1/x.mp4` and `d2/x.mp4` stay apart. A file found twice (a symlink, a list naming it twice) is
    kept once; `on_duplicate(dropped, its relative path, kept)` hears of each."""
    found: list[tuple[Path, Path]] = []
    for a in args:
        found += _expand(a)
    listed_files = [a for a in listed if Path(a).expanduser().is_file()]
    root = _list_base(listed_files, base)
    for a in listed:
        p = Path(a).expanduser()
        found += [(p, _below(p, root, a))] if a in listed_files else _expand(a)
    seen: dict[Path, Path] = {}
    unique = []
    for f, rel in found:
        key = f.resolve()
        if key in seen:
            if on_duplicate is not None:
                on_duplicate(f, rel, seen[key])
            continue
        seen[key] = f
        unique.append((f, rel))
    return unique


def _expand(a: str) -> list[tuple[Path, Path]]:
    p = Path(a).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES
                       and TMP_MARK not in f.name)
        return [(f, f.relative_to(p)) for f in files]
    if p.is_file():
        return [(p, Path(p.name))]
    if any(ch in a for ch in "*?["):
        matches = sorted(Path(m) for m in globlib.glob(os.path.expanduser(a), recursive=True))
        files = [m for m in matches if m.is_file() and m.suffix.lower() in VIDEO_SUFFIXES and TMP_MARK not in m.name]
        if not files:
            raise EvsError(f"{a}: the pattern matches no video file")
        root = _fixed_prefix(os.path.expanduser(a))  # 'vb/**/x*.mp4' keeps sub/ as a folder input would
        return [(f, _below(f, root, a)) for f in files]
    raise EvsError(f"{a}: no such file or folder")


def _list_base(files: list[str], base: Path | None) -> Path:
    if base is not None:
        return base
    cwd = Path.cwd()
    absolute = [os.path.abspath(os.path.expanduser(f)) for f in files]
    if all(not os.path.relpath(f, cwd).startswith("..") for f in absolute):
        return cwd
    return Path(os.path.commonpath([os.path.dirname(f) for f in absolute]))


def _below(f: Path, root: Path, named: str) -> Path:
    """`f`'s path below `root`, with `..` resolved by name: never one that climbs out (a glob such as
    'vb/*/../../x.mp4' would put its output outside --out)."""
    rel = os.path.normpath(os.path.relpath(os.path.abspath(f), os.path.abspath(root)))
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        raise EvsError(f"{named}: {f} lies outside {root}, so its output would land outside --out (name files "
                       "below the folder a pattern starts from, or pass --base)")
    return Path(rel)
