"""Where each result goes, and how runs share an output folder safely.

A result is written to a temporary name and renamed into place when complete, so a killed run never
leaves a partial file under the final name. Which run may write an output is claims.py's business.
"""

from __future__ import annotations

import glob
import hashlib
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from ...errors import EvsError
from ...io.inputs import TMP_MARK, VIDEO_SUFFIXES


@dataclass(frozen=True)
class Job:
    input: Path
    rel: Path  # path relative to the input root: kept under --out so VBench tooling finds results
    output: Path


def in_shard(rel: Path, shard: tuple[int, int]) -> bool:
    """Whether a video belongs to shard K of N (--shard K/N): a hash of its relative path, so every machine of
    a job array agrees without talking to the others, whatever the listing order or PYTHONHASHSEED."""
    k, n = shard
    digest = hashlib.sha256(rel.as_posix().encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n == k


def plan_jobs(inputs: list[tuple[Path, Path]], out: Path | None, fmt: str,
              shard: tuple[int, int] = (0, 1)) -> list[Job]:
    """One job per input, then those of shard K of N. Collisions are found among all inputs, before sharding:
    two inputs that two tasks of a job array would each write to one output are refused by every task."""
    ext = ".mp4" if fmt == "mp4" else ""
    base = out if out is not None else Path("evs-out")
    root = os.path.realpath(base)
    real = {f: os.path.realpath(f) for f, _ in inputs}  # one lookup per input: 100,000 are planned in seconds
    # `evs refine videos/ --out videos/refined`: earlier results are not new inputs, nor links among them
    folder = {d: os.path.realpath(d) + os.sep for d in {f.parent for f, _ in inputs}}  # once per folder
    inputs = [(f, rel) for f, rel in inputs if not real[f].startswith(root + os.sep)
              and not folder[f.parent].startswith(root + os.sep)]
    single_file_out = (out is not None and len(inputs) == 1 and fmt == "mp4"
                       and out.suffix.lower() in VIDEO_SUFFIXES and not out.is_dir())
    jobs = []
    for f, rel in inputs:
        if rel.is_absolute() or ".." in rel.parts:  # io.inputs never makes one; a guard for --out's sake
            raise EvsError(f"{f}: its output path {rel} would land outside --out")
        dest = out if single_file_out else base / rel.with_suffix(ext) if ext else base / rel.parent / rel.stem
        jobs.append(Job(f, rel, dest))
    _refuse_collisions(jobs, case_insensitive(Path(root)))
    folders: dict[Path, str] = {}
    for j in jobs:
        folder = folders.get(j.output.parent) or folders.setdefault(j.output.parent, os.path.realpath(j.output.parent))
        if os.path.join(folder, j.output.name) == real[j.input]:
            raise EvsError(f"{j.input}: output would overwrite the input; choose another --out")
    return [j for j in jobs if in_shard(j.rel, shard)]


def _refuse_collisions(jobs: list[Job], fold_case: bool) -> None:
    """Two inputs with one output (a.mp4 and a.mkv; A.mp4 and a.mp4 where the filesystem ignores case): one
    line naming both. One pass over the jobs: a listing of 100,000 is checked in well under a second."""
    first: dict[str, Job] = {}
    for j in jobs:
        key = str(j.output).casefold() if fold_case else str(j.output)
        other = first.setdefault(key, j)
        if other is not j:
            raise EvsError(f"{other.input} and {j.input} would both be written to {j.output}; rename one, or "
                           "refine them into separate --out folders")


def case_insensitive(folder: Path) -> bool:
    """Whether the filesystem holding `folder` ignores case in names (macOS and Windows volumes, casefolded
    Linux folders): the nearest existing folder whose name has letters is looked up with its case swapped,
    which writes nothing."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    while existing != existing.parent and existing.name.swapcase() == existing.name:
        existing = existing.parent
    if existing == existing.parent:
        return False
    swapped = existing.with_name(existing.name.swapcase())
    try:
        return swapped.exists() and os.path.samefile(existing, swapped)
    except OSError:
        return False


def check_writable(jobs: list[Job]) -> None:
    """Every output's folder can be created and written, checked before any model loads: --out naming a file,
    or a folder this user may not write, is one setup error instead of one failure per video."""
    seen: set[Path] = set()
    for j in jobs:
        folder = j.output.parent.resolve()
        if folder in seen:
            continue
        seen.add(folder)
        check_out_folder(folder, f" (outputs would go to {folder})")


def check_out_folder(folder: Path, where: str = "") -> None:
    """`folder`, or the part of it that exists, is a folder this user can create files in; EvsError otherwise."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise EvsError(f"--out: {existing} is a file, not a folder{where}")
    why = unwritable(existing)
    if why:
        raise EvsError(f"--out: cannot write in {existing} ({why})")


def unwritable(folder: Path) -> str | None:
    """Why this user cannot create files in an existing folder, in words, or None when it can."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    read_only = hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY
    return "a read-only filesystem" if read_only else "permission denied"


def output_exists(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


# Side files (claims, temporary results) add a suffix to the output's name; a legal 250-byte name plus a
# suffix would pass the filesystem's 255-byte limit, so long names are cut and made unique with a hash.
_NAME_KEEP, _NAME_LIMIT = 180, 200


def side_base(output: Path) -> str:
    """The output's name, or for a long one its first 180 bytes + '~' + a hash of the whole name."""
    name = output.name
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= _NAME_LIMIT:
        return name
    digest = hashlib.sha1(raw).hexdigest()[:16]
    return raw[:_NAME_KEEP].decode(errors="ignore") + "~" + digest  # UTF-8; a character cut in two is dropped


def create_temp(final: Path, owner: str, folder: bool = False) -> Path:
    """A new temporary name beside `final` for owner token `owner`, created exclusively (O_EXCL, no symlink
    followed; a folder with mkdir) under a name nobody can guess ahead, so nothing is written through a
    link that someone planted. The suffix is not a video suffix: the format is given explicitly."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{side_base(final)}{TMP_MARK}{owner}-{secrets.token_hex(6)}")
    if folder:
        os.mkdir(tmp, 0o755)
    else:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
    return tmp


def temps_of(final: Path, owner: str | None = None) -> list[Path]:
    """Temporary results beside `final`: those of owner token `owner`, or all."""
    prefix = side_base(final) + TMP_MARK + (f"{owner}-" if owner else "")
    return list(final.parent.glob(glob.escape(prefix) + "*"))


def remove_others_temps(final: Path, mine: str) -> list[Path]:
    """Temporary results for `final` left by other processes (killed runs). Call only while holding its claim:
    then no other live run is writing `final`, so every such file is garbage."""
    removed = []
    for p in temps_of(final):
        if not p.name.startswith(side_base(final) + TMP_MARK + mine + "-"):
            discard(p)
            removed.append(p)
    return removed


def publish(tmp: Path, final: Path) -> None:
    """Move a finished result into place in one rename (a folder replaces an old folder)."""
    if tmp.is_dir() and final.exists():
        old = final.with_name(f"{side_base(final)}{TMP_MARK}old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def write_whole(final: Path, write) -> None:
    """`write(tmp)` to a new temporary name beside `final`, then one rename: a failure or an interrupt leaves
    no half-written file under either name (for single files written outside a batch)."""
    tmp = create_temp(final, f"p{os.getpid()}")
    try:
        write(tmp)
        publish(tmp, final)
    finally:
        discard(tmp)


def discard(tmp: Path) -> None:
    if tmp.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


def missing_folders(outputs: list[Path]) -> list[Path]:
    """The folders the outputs would be written in that do not exist yet (each up to the first that does),
    deepest first: what a run makes and, where it wrote nothing in them, removes again."""
    missing: set[Path] = set()
    for out in outputs:
        folder = out.parent
        while folder not in missing and not folder.exists() and folder != folder.parent:
            missing.add(folder)
            folder = folder.parent
    return sorted(missing, key=lambda f: (-len(f.parts), f))


def remove_empty(folders: list[Path]) -> None:
    """rmdir each folder, deepest first, where it is empty (never a folder with anything in it: rmdir refuses,
    so a folder another run is writing in stays)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass
