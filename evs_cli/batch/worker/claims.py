"""Claims: which run works on which output, for runs that share a folder (cron, job arrays, containers, Ray).

Before work starts on an output, a run creates a claim file beside it with O_EXCL, naming its owner: a random
token, and what makes a process unique on its machine (boot id, PID namespace, PID, start time). The owner
renews the claim (its mtime) every quarter of the lease while it works, however long its video runs. Another
run takes a claim over when
- its owner is on the same boot and in the same PID namespace, and that PID is gone or started at another
  time (a recycled PID): a dead owner is known at once, whatever the hostname says;
- or it has not been renewed for a whole lease (another machine or container, or a process that froze).
Taking over and releasing both read the claim through a second name (a hard link), then remove it in one
rename, so of two contenders one wins, no run ever removes a claim that is not the one it judged (its own, or
the stale one), and a newer claim is never moved away, not even for a moment.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import asdict
from pathlib import Path

from ...errors import EvsError
from ..planning.outputs import create_temp, discard, side_base, temps_of
from .owners import Owner, alive_here, start_time, this_process  # noqa: F401 - read from here too

CLAIM_SUFFIX = ".evs-claim"
DEFAULT_LEASE = 180.0  # seconds; renewed every 45 s, well inside NFS's attribute caching (60 s at most)
UNREADABLE_GRACE = 10.0  # seconds an empty or unparsable claim may be one still being written


class Claim:
    """An O_EXCL claim file beside an output, held and renewed while this process works on it."""

    def __init__(self, output: Path, lease: float = DEFAULT_LEASE):
        self.output = output
        self.path = claim_path(output)
        self.lease = lease
        self.held = False

    def acquire(self) -> bool:
        """Create the claim (taking over a dead or stale one); False while another live run holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = asdict(this_process())
        for _ in range(3):
            with _registry.lock:
                if _registry.closed:
                    return False
                try:
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644)
                except FileExistsError:
                    fd = None
                except FileNotFoundError:  # its folder was removed as empty by a run that ended meanwhile
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    continue
                if fd is not None:
                    try:
                        with os.fdopen(fd, "w") as f:
                            json.dump({**me, "time": time.time()}, f)
                    except OSError as e:  # a full disk: leave no empty claim behind for later runs to trip on
                        self.path.unlink(missing_ok=True)
                        raise EvsError(f"{self.output}: cannot write its claim file ({e.strerror or e})") from e
                    self.held = True
                    _registry.add(self)
                    return True
            if not self._take_over():
                return False
        return False

    def holder(self) -> dict | None:
        """The owner the claim file names; {} when it is unreadable, None when there is none."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def live_holder(self) -> bool:
        """Whether another live run holds this output's claim now (what --wait waits for)."""
        info = self.holder()
        return info is not None and not self._stale(info)

    def _stale(self, info: dict) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True
        if not info:  # empty or garbled (a full disk, a crash between create and write)
            return age >= UNREADABLE_GRACE
        alive = alive_here(info)
        return not alive if alive is not None else age >= self.lease

    def _take_over(self) -> bool:
        """Remove a claim whose owner is dead or whose lease ran out; False when its owner lives."""
        info = self.holder()
        if info is None:
            return True  # released meanwhile: race for it again (the output is checked after)
        return self._stale(info) and _remove_if(self.path, info.get("token"))

    def create_temp(self, folder: bool = False) -> Path:
        """This process's new temporary name for the output, created exclusively while the claim is held
        (after `shutdown`, none is created: a worker about to be killed leaves nothing)."""
        with _registry.lock:
            if _registry.closed or not self.held:
                raise EvsError(f"{self.output}: its claim is no longer held by this run")
            return create_temp(self.output, this_process().token, folder)

    def ours(self) -> bool:
        info = self.holder()
        return bool(info) and info.get("token") == this_process().token

    def renew(self) -> bool:
        """Show that the owner lives; False when the claim is no longer this process's (taken over)."""
        if not self.held:
            return False
        if not self.ours():
            self.held = False
            return False
        try:
            os.utime(self.path)
        except OSError:
            pass  # a full or vanished folder: the next renewal tries again
        return True

    def release(self) -> None:
        """Remove the claim if it is still this process's (never one that another run took over)."""
        _registry.remove(self)
        if self.held:
            self.held = False
            _remove_if(self.path, this_process().token)


def claim_path(output: Path) -> Path:
    return output.with_name(side_base(output) + CLAIM_SUFFIX)


def _remove_if(path: Path, token: str | None) -> bool:
    """Remove the claim at `path` only if it is the one with `token` (the one judged); True when `path` is
    free now. It is read through a second name (a hard link) first, so a newer claim that another run made
    after the judgement stays where it is: `path` is never free while such a claim stands (moving it away to
    read it, then back, let a third run claim the output in between, and two runs thought they held it)."""
    mark = f"{this_process().token}-{secrets.token_hex(4)}"
    seen, dropped = path.with_name(f"{path.name}.seen-{mark}"), path.with_name(f"{path.name}.drop-{mark}")
    try:
        os.link(path, seen, follow_symlinks=False)
    except FileNotFoundError:
        return True
    except OSError:  # a filesystem without hard links: read it where the rename puts it
        return _remove_by_rename(path, token, dropped)
    try:
        if not _is_judged(seen, token):
            return False
        try:
            os.rename(path, dropped)
        except FileNotFoundError:
            return True  # removed meanwhile by another run that judged it too
        if os.path.samefile(seen, dropped):
            dropped.unlink(missing_ok=True)
            return True
        return _put_back(dropped, path)  # a newer claim slipped in between the link and the rename
    finally:
        seen.unlink(missing_ok=True)


def _is_judged(claim: Path, token: str | None) -> bool:
    try:
        info = json.loads(claim.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        info = {}
    return not isinstance(info, dict) or info.get("token") == token


def _remove_by_rename(path: Path, token: str | None, dropped: Path) -> bool:
    try:
        os.rename(path, dropped)
    except FileNotFoundError:
        return True
    if _is_judged(dropped, token):
        dropped.unlink(missing_ok=True)
        return True
    return _put_back(dropped, path)


def _put_back(dropped: Path, path: Path) -> bool:
    """Someone else's newer claim: back where it was, unless yet another run claimed meanwhile."""
    try:
        os.link(dropped, path, follow_symlinks=False)
    except FileExistsError:
        pass
    except OSError:  # no hard links here: a rename, unless a newer claim is there now
        if not os.path.lexists(path):
            os.replace(dropped, path)
    dropped.unlink(missing_ok=True)
    return False


def clear_dead_owner(output: Path, token: str) -> list[Path]:
    """Remove the claim and temporary files that the process with this owner token left for `output` when
    it died (a worker or a Ray actor killed mid-video, whose claim would otherwise stand for a lease)."""
    removed = []
    claim = claim_path(output)
    info = Claim(output).holder()
    if info and info.get("token") == token and _remove_if(claim, token):
        removed.append(claim)
    for tmp in temps_of(output, token):
        discard(tmp)
        removed.append(tmp)
    return removed


class _Registry:
    """This process's held claims, renewed by one daemon thread; closed for good by `shutdown`."""

    def __init__(self):
        self.lock = threading.RLock()
        self.claims: dict[int, Claim] = {}
        self.closed = False  # pragma: no mutate - None is as false
        self.thread: threading.Thread | None = None
        self.changed = threading.Event()  # a claim was added: the renewal interval may be shorter now
        self.pid = os.getpid()  # pragma: no mutate - another value only makes the first add() reset what is empty

    def add(self, claim: Claim) -> None:
        with self.lock:
            if self.pid != os.getpid():  # forked: the parent's claims and thread are not ours
                self.claims, self.thread, self.pid = {}, None, os.getpid()
            self.claims[id(claim)] = claim
            self.changed.set()
            if self.thread is None:
                self.thread = threading.Thread(target=self._renew_forever, name="evs-claims", daemon=True)
                self.thread.start()

    def remove(self, claim: Claim) -> None:
        with self.lock:
            self.claims.pop(id(claim), None)

    def _renew_forever(self) -> None:
        while True:
            self.changed.clear()
            with self.lock:
                held = list(self.claims.values())
            for claim in held:
                claim.renew()
            self.changed.wait(min([c.lease for c in held] or [DEFAULT_LEASE]) / 4)

    def shutdown(self) -> None:
        """Release every claim this process holds and remove its temporary files, and take no claim (create
        no temporary file) after: for a worker about to be killed, so that nothing it held outlives it."""
        with self.lock:
            self.closed = True
            token = this_process().token
            for claim in list(self.claims.values()):
                for tmp in temps_of(claim.output, token):
                    discard(tmp)
                claim.release()


_registry = _Registry()


def shutdown() -> None:
    _registry.shutdown()
