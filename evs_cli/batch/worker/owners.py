"""Who owns a claim (claims.py): what makes a process unique on its machine (a random token, the boot id, the PID
namespace, the PID and its start time), and whether an owner named in a claim still lives here."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    token: str
    host: str  # for people reading a claim; never used to judge one
    pid: int
    boot: str | None
    pidns: str | None
    start: int | None  # process start time, clock ticks after boot


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:  # pragma: no mutate - /proc's text is ASCII in any encoding
            return f.read().strip()
    except OSError:
        return None


def start_time(pid: int) -> int | None:
    """When process `pid` of this PID namespace started (field 22 of /proc/PID/stat), None if it is gone
    (or a zombie: killed, not yet reaped by its parent)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    try:
        fields = stat.rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (IndexError, ValueError):
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


_me: tuple[int, Owner] | None = None


def this_process() -> Owner:
    """This process as a claim owner (a new one after fork)."""
    global _me
    if _me is None or _me[0] != os.getpid():
        pid = os.getpid()
        _me = (pid, Owner(secrets.token_hex(8), socket.gethostname(), pid,
                          _read("/proc/sys/kernel/random/boot_id"), _pid_namespace(), start_time(pid)))
    return _me[1]


def alive_here(owner: dict) -> bool | None:
    """Whether the owner of a claim still runs, when this process can tell (same boot, same PID namespace);
    None when it cannot (another machine, container or boot): then only the lease tells."""
    me = this_process()
    if me.boot is None or owner.get("boot") != me.boot or owner.get("pidns") != me.pidns:
        return None
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    return start_time(pid) == owner.get("start") is not None or (pid == me.pid and owner.get("token") == me.token)
