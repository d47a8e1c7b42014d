"""Where each result goes, and how runs share an output folder safely.

A result is written to a temporary name and renamed into place when complete, so a killed run never
leaves a partial file under the final name. Before work starts on an output, the run creates a claim
file beside it with O_EXCL: two runs over the same folder (cron) never process the same video twice.
A claim whose process is gone (same host) or that is older than `stale_after` is taken over.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvsError
from ..io.inputs import TMP_MARK, VIDEO_SUFFIXES

CLAIM_SUFFIX = ".evs-claim"
UNREADABLE_GRACE = 10.0  # seconds an empty or unparsable claim may be one still being written


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
    inputs = [(f, rel) for f, rel in inputs if in_shard(rel, shard)]
    ext = ".mp4" if fmt == "mp4" else ""
    root = (out if out is not None else Path("evs-out")).resolve()
    # `evs refine videos/ --out videos/refined`: earlier results are not new inputs
    inputs = [(f, rel) for f, rel in inputs if root not in f.resolve().parents]
    single_file_out = (out is not None and len(inputs) == 1 and fmt == "mp4"
                       and out.suffix.lower() in VIDEO_SUFFIXES and not out.is_dir())
    jobs = []
    for f, rel in inputs:
        if single_file_out:
            dest = out
        else:
            base = out if out is not None else Path("evs-out")
            dest = base / rel.with_suffix(ext) if ext else base / rel.parent / rel.stem
        jobs.append(Job(f, rel, dest))
    dests = [j.output.resolve() for j in jobs]
    if len(set(dests)) != len(dests):
        dup = next(d for d in dests if dests.count(d) > 1)
        raise EvsError(f"two inputs would both be written to {dup}; refine them into separate --out folders")
    for j in jobs:
        if j.output.resolve() == j.input.resolve():
            raise EvsError(f"{j.input}: output would overwrite the input; choose another --out")
    return jobs


def check_writable(jobs: list[Job]) -> None:
    """Every output's folder can be created and written, checked before any model loads: --out naming a file,
    or a folder this user may not write, is one setup error instead of one failure per video."""
    seen: set[Path] = set()
    for j in jobs:
        folder = j.output.parent.resolve()
        if folder in seen:
            continue
        seen.add(folder)
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise EvsError(f"--out: {existing} is a file, not a folder (outputs would go to {folder})")
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
    return raw[:_NAME_KEEP].decode("utf-8", "ignore") + "~" + digest


def temp_path(final: Path, pid: int | None = None) -> Path:
    """Where this process (or process `pid`) writes `final` before renaming it into place (the format is
    given explicitly, not by suffix)."""
    return final.with_name(f"{side_base(final)}{TMP_MARK}{os.getpid() if pid is None else pid}")


def remove_others_temps(final: Path) -> list[Path]:
    """Temporary results for `final` left by other processes (killed runs). Call only while holding its claim:
    then no other live run is writing `final`, so every such file is garbage."""
    mine = temp_path(final).name
    removed = []
    for p in final.parent.glob(glob.escape(side_base(final) + TMP_MARK) + "*"):
        if p.name != mine:
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
    """`write(tmp)` to this process's temporary name beside `final`, then one rename: a failure or an
    interrupt leaves no half-written file under either name (for single files written outside a batch)."""
    tmp = temp_path(final)
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


class Claim:
    """An O_EXCL claim file beside an output, held while one run works on it."""

    def __init__(self, output: Path, stale_after: float = 6 * 3600):
        self.output = output
        self.path = output.with_name(side_base(output) + CLAIM_SUFFIX)
        self.stale_after = stale_after
        self.held = False

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._take_over_stale():
                    return False
                continue
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}, f)
            except OSError as e:  # a full disk: leave no empty claim behind for later runs to trip on
                self.path.unlink(missing_ok=True)
                raise EvsError(f"{self.output}: cannot write its claim file ({e.strerror or e})") from e
            self.held = True
            return True
        return False

    def _take_over_stale(self) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return True  # released between our open and this read: race for it again (the output is checked after)
        except OSError:
            return False  # unreadable for another reason: leave it to its owner
        try:
            info = json.loads(text)
            if not isinstance(info, dict):
                raise ValueError
        except ValueError:
            # Empty or garbled (a full disk, a crash between create and write): no evidence of a live run once
            # its owner has had time to write it.
            if age < UNREADABLE_GRACE:
                return False
            info = {"host": socket.gethostname(), "pid": -1}
        alive = info.get("host") != socket.gethostname() or _pid_alive(info.get("pid", -1))
        if alive and age < self.stale_after:
            return False
        # Only one contender wins the rename; the others see the claim gone and race on O_EXCL.
        try:
            os.rename(self.path, self.path.with_name(self.path.name + f".stale-{os.getpid()}"))
        except FileNotFoundError:
            return True
        self.path.with_name(self.path.name + f".stale-{os.getpid()}").unlink(missing_ok=True)
        return True

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def clear_dead_owner(output: Path, host: str, pid: int) -> list[Path]:
    """Remove the claim and temporary file that process `pid` on `host` left for `output` when it died (a Ray
    actor killed on another node, whose claim would otherwise read as a live run for `stale_after`)."""
    removed = []
    claim = Claim(output).path
    try:
        info = json.loads(claim.read_text(encoding="utf-8"))
        if isinstance(info, dict) and info.get("host") == host and info.get("pid") == pid:
            claim.unlink(missing_ok=True)
            removed.append(claim)
    except (OSError, ValueError):
        pass
    tmp = temp_path(output, pid)
    if tmp.exists():
        discard(tmp)
        removed.append(tmp)
    return removed


def _pid_alive(pid: int) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
