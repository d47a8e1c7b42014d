"""Who owns a claim (batch/worker/owners.py): a live owner here is told by its PID and start time, and only on
this boot and in this PID namespace (elsewhere only the lease tells); start times read from /proc past odd
process names, none for a zombie; this process's own identity."""

import os
import subprocess

from evs_cli.batch.worker import owners
from evs_cli.batch.worker.owners import start_time, this_process


def test_a_live_owner_here_is_alive_by_its_pid_and_start_time_and_only_on_this_boot_and_namespace(tmp_path):
    me = this_process()
    child = subprocess.Popen(["sleep", "30"])
    try:
        owner = {"token": "other", "pid": child.pid, "boot": me.boot, "pidns": me.pidns, "start": start_time(child.pid)}
        assert owners.alive_here(owner) is True  # another live process here
        assert owners.alive_here({**owner, "start": owner["start"] + 1}) is False  # its PID, recycled
        assert owners.alive_here({**owner, "pidns": "pid:[other]"}) is None  # another namespace: the lease tells
        assert owners.alive_here({**owner, "boot": "another-boot"}) is None  # another boot or machine
        for pid in ("1", 0, -3, None):
            assert owners.alive_here({**owner, "pid": pid}) is False, pid
    finally:
        child.kill()
        child.wait()
    init = start_time(1)  # PID 1: in a container, an evs run itself
    if init is not None:
        assert owners.alive_here({"token": "x", "pid": 1, "boot": me.boot, "pidns": me.pidns, "start": init}) is True
    mine = {"token": me.token, "pid": me.pid, "boot": me.boot, "pidns": me.pidns, "start": None}
    assert owners.alive_here(mine) is True  # this process's own claim, even where its start time is unknown
    assert owners.alive_here({**mine, "token": "another run's"}) is False


def test_start_times_are_read_past_a_name_with_parentheses_and_a_zombie_has_none(monkeypatch):
    fields = ["S"] + [str(i) for i in range(1, 19)] + ["4242"]  # field 3 (state) .. field 22 (start time)
    stat = {"/proc/7/stat": "7 (we) (ird) " + " ".join(fields), "/proc/8/stat": "8 (z) Z " + " ".join(fields[1:]),
            "/proc/9/stat": "9 (x) X " + " ".join(fields[1:]), "/proc/10/stat": "10 (cut) S 1 2"}
    monkeypatch.setattr(owners, "_read", stat.get)
    assert owners.start_time(7) == 4242
    assert owners.start_time(8) is None and owners.start_time(9) is None  # a zombie, a dead task
    assert owners.start_time(10) is None and owners.start_time(11) is None  # cut short; gone


def test_this_process_knows_its_pid_namespace_and_boot(monkeypatch):
    monkeypatch.setattr(owners, "_me", None)  # read anew, not the owner an earlier test made
    me = this_process()
    assert me.pidns == os.readlink("/proc/self/ns/pid")
    assert me.boot == open("/proc/sys/kernel/random/boot_id").read().strip() and me.pid == os.getpid()
    assert me.start == start_time(os.getpid()) is not None
