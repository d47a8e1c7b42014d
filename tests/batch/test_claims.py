"""Claims judged by what PIDs cannot fake (boot, PID namespace, start time) and by a renewed lease, never by
hostname; taken over race-free; released only by their owner."""

import json
import multiprocessing as mp
import os
import subprocess
import time

import pytest

from evs_cli.batch import claims
from evs_cli.batch.claims import Claim, clear_dead_owner, start_time, this_process


def _write_claim(path, **owner):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"token": "t0ken", "host": "elsewhere", **owner}))


def _dead_pid() -> tuple[int, int]:
    p = subprocess.Popen(["sleep", "0.1"])
    started = start_time(p.pid)
    p.wait()
    return p.pid, started


def test_a_dead_owner_here_is_seen_at_once_whatever_its_host(tmp_path):
    me = this_process()
    pid, started = _dead_pid()
    c = Claim(tmp_path / "a.mp4", lease=3600)
    _write_claim(c.path, pid=pid, boot=me.boot, pidns=me.pidns, start=started)  # fresh mtime, other host
    assert c.acquire() and c.ours()
    c.release()
    assert not c.path.exists()


def test_a_recycled_pid_is_not_its_old_owner(tmp_path):
    """A restarted container reuses PIDs (PID 1 every time): a live process with another start time is a
    different process."""
    me = this_process()
    c = Claim(tmp_path / "a.mp4", lease=3600)
    _write_claim(c.path, pid=os.getpid(), boot=me.boot, pidns=me.pidns, start=me.start - 1)
    assert c.acquire()
    c.release()


def test_a_live_owner_in_another_namespace_keeps_its_claim_until_its_lease_runs_out(tmp_path):
    c = Claim(tmp_path / "a.mp4", lease=5)
    _write_claim(c.path, pid=1, boot="another-boot", pidns="pid:[1]", start=1)
    assert not c.acquire() and c.live_holder()
    old = time.time() - 6
    os.utime(c.path, (old, old))
    assert not c.live_holder() and c.acquire()
    c.release()


def test_the_owner_renews_its_claim_however_long_it_works(tmp_path, monkeypatch):
    c = Claim(tmp_path / "a.mp4", lease=4)
    assert c.acquire()
    old = time.time() - 100  # as if its last renewal were long ago
    os.utime(c.path, (old, old))
    time.sleep(2.0)  # the renewal thread runs every lease/4 = 1 s
    assert time.time() - c.path.stat().st_mtime < 2.0
    monkeypatch.setattr(claims, "alive_here", lambda owner: None)  # judged as from another machine: the lease
    assert Claim(tmp_path / "a.mp4", lease=4).live_holder()
    assert not Claim(tmp_path / "a.mp4", lease=4).acquire()
    c.release()


def test_a_lease_runs_from_the_last_renewal_not_from_the_claims_creation(tmp_path, monkeypatch):
    """A live run on another machine keeps its claim however long ago it made it: the lease is stepped past on
    both sides of its last renewal (the claim file's mtime), with a clock that the test moves."""
    lease, made, renewed = 60.0, 1_000_000.0, 1_000_500.0  # made 500 s (over 8 leases) before its last renewal
    c = Claim(tmp_path / "a.mp4", lease=lease)
    _write_claim(c.path, pid=1, boot="another-boot", pidns="pid:[1]", start=1, time=made)
    os.utime(c.path, (renewed, renewed))
    now = [renewed + lease - 0.5]
    monkeypatch.setattr(claims.time, "time", lambda: now[0])
    assert c.live_holder() and not c.acquire()  # just inside its lease: not taken
    now[0] = renewed + lease + 0.5
    assert not c.live_holder()  # just past it: stale
    assert c.acquire() and c.ours()
    c.release()


def test_release_removes_only_ones_own_claim(tmp_path):
    c = Claim(tmp_path / "a.mp4", lease=60)
    assert c.acquire()
    _write_claim(c.path, pid=1, boot="another-boot", pidns="pid:[1]", start=1)  # taken over by another run
    assert not c.renew()
    c.release()
    assert json.loads(c.path.read_text())["token"] == "t0ken"


def test_a_temporary_file_is_created_only_while_the_claim_is_held(tmp_path):
    c = Claim(tmp_path / "a.mp4", lease=60)
    assert c.acquire()
    tmp = c.create_temp()
    assert tmp.is_file() and this_process().token in tmp.name and tmp != c.create_temp()  # unguessable
    c.release()
    with pytest.raises(Exception, match="no longer held"):
        c.create_temp()


def test_clear_dead_owner_leaves_other_owners_files(tmp_path):
    out = tmp_path / "a.mp4"
    _write_claim(Claim(out).path, pid=1, boot="b", pidns="p", start=1)
    (tmp_path / "a.mp4.evs-tmp-t0ken-abc").write_bytes(b"x")
    (tmp_path / "a.mp4.evs-tmp-other-abc").write_bytes(b"x")
    assert clear_dead_owner(out, "someone") == []
    assert sorted(p.name for p in clear_dead_owner(out, "t0ken")) == ["a.mp4.evs-claim", "a.mp4.evs-tmp-t0ken-abc"]
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4.evs-tmp-other-abc"]


def _contend(path: str, go, results) -> None:
    c = Claim(__import__("pathlib").Path(path), lease=3600)
    go.wait()
    won = c.acquire()
    results.put(won)
    if won:
        time.sleep(1.0)  # hold it while the others judge it
        c.release()


def test_of_many_contenders_for_a_dead_claim_exactly_one_wins(tmp_path):
    me = this_process()
    pid, started = _dead_pid()
    out = tmp_path / "a.mp4"
    _write_claim(Claim(out).path, pid=pid, boot=me.boot, pidns=me.pidns, start=started)
    ctx = mp.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(out), go, results)) for _ in range(6)]
    for p in procs:
        p.start()
    go.set()
    won = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sorted(won) == [False] * 5 + [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == []
