"""Claims judged by what PIDs cannot fake (boot, PID namespace, start time) and by a renewed lease, never by
hostname; taken over race-free; released only by their owner."""

import json
import multiprocessing as mp
import os
import subprocess
import time

import pytest

from evs_cli.batch.worker import claims
from evs_cli.batch.worker.claims import Claim, clear_dead_owner, start_time, this_process
from evs_cli.errors import EvsError


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


# -- the lease and the grace, stepped past on both sides --------------------------------------------------
@pytest.mark.parametrize("info,limit", [({}, claims.UNREADABLE_GRACE),  # empty or garbled: a short grace
                                        ({"token": "t", "boot": "elsewhere"}, 60.0)])  # another machine: the lease
def test_a_claim_is_stale_from_exactly_its_limit_on(tmp_path, monkeypatch, info, limit):
    c = Claim(tmp_path / "a.mp4", lease=60.0)
    c.path.write_text("")
    os.utime(c.path, (1000.0, 1000.0))
    for age, stale in ((limit - 0.25, False), (limit, True), (limit + 0.25, True)):
        monkeypatch.setattr(claims.time, "time", lambda age=age: 1000.0 + age)
        assert c._stale(info) is stale, age
    c.path.unlink()
    assert c._stale({"token": "t"}) is True  # gone meanwhile: nothing to wait for
    assert c._take_over() is True  # released meanwhile: race for it again


# -- the renewal thread and the shutdown ---------------------------------------------------------------
def test_the_registry_renews_every_claim_it_holds_and_shutdown_releases_them_and_takes_no_more(tmp_path,
                                                                                             monkeypatch):
    registry = claims._Registry()
    monkeypatch.setattr(claims, "_registry", registry)
    a, b = Claim(tmp_path / "a.mp4", lease=0.4), Claim(tmp_path / "b.mp4", lease=600)
    assert a.acquire() and b.acquire()
    token = this_process().token
    tmp = a.create_temp()
    assert tmp.name.startswith(f"a.mp4.evs-tmp-{token}-")
    theirs = tmp_path / "a.mp4.evs-tmp-0therrun-abc"  # another process's temporary file: not ours to remove
    theirs.write_bytes(b"x")
    for c in (a, b):
        os.utime(c.path, (1, 1))
    time.sleep(0.6)  # renewed every shortest lease / 4 = 0.1 s
    assert all(c.path.stat().st_mtime > time.time() - 0.5 for c in (a, b))
    assert registry.thread.is_alive()
    registry.shutdown()
    assert not a.path.exists() and not b.path.exists() and not tmp.exists() and theirs.exists()
    assert not Claim(tmp_path / "c.mp4").acquire() and not (tmp_path / "c.mp4.evs-claim").exists()
    with pytest.raises(EvsError, match="no longer held"):
        a.create_temp()


def test_the_renewal_waits_a_quarter_of_the_shortest_lease_held(monkeypatch):
    registry = claims._Registry()
    waits = []

    class Stop(Exception):
        pass

    def wait(timeout):
        waits.append(timeout)
        raise Stop

    monkeypatch.setattr(registry.changed, "wait", wait)
    registry.claims = {1: Claim(__import__("pathlib").Path("/nonexistent/a.mp4"), lease=8.0),
                       2: Claim(__import__("pathlib").Path("/nonexistent/b.mp4"), lease=100.0)}
    with pytest.raises(Stop):
        registry._renew_forever()
    registry.claims = {}
    with pytest.raises(Stop):
        registry._renew_forever()
    assert waits == [2.0, claims.DEFAULT_LEASE / 4]


def test_a_newer_claim_is_never_moved_away_while_a_stale_judgement_is_acted_on(tmp_path, monkeypatch):
    """Run B judged a dead claim stale; meanwhile it was removed and run A claimed the output anew. B's removal
    reads the claim before it acts: A's claim stays in place the whole time, so a third run cannot claim the
    output in between (two runs then believed they held it; seen as two winners among six contenders)."""
    path = Claim(tmp_path / "a.mp4").path
    path.write_text(json.dumps({"token": "A's"}))
    third, real_loads = [], json.loads

    def a_third_run_tries_while_b_reads(text, *args, **kw):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            third.append("claimed")
        except FileExistsError:
            third.append("refused")
        return real_loads(text, *args, **kw)

    monkeypatch.setattr(claims.json, "loads", a_third_run_tries_while_b_reads)
    assert claims._remove_if(path, "the dead owner's") is False
    monkeypatch.undo()
    assert third == ["refused"] and json.loads(path.read_text())["token"] == "A's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4.evs-claim"]  # no second name left
    assert claims._remove_if(path, "A's") is True and not path.exists()  # the judged one goes
    assert list(tmp_path.iterdir()) == []


def test_where_the_filesystem_has_no_hard_links_a_claim_is_judged_where_a_rename_puts_it(tmp_path, monkeypatch):
    import errno

    def no_links(*args, **kw):
        raise OSError(errno.EPERM, "hard links not supported")

    path = Claim(tmp_path / "a.mp4").path
    path.write_text(json.dumps({"token": "A's"}))
    monkeypatch.setattr(claims.os, "link", no_links)
    assert claims._remove_if(path, "someone else's") is False  # not the judged one: left (put back) where it was
    monkeypatch.undo()
    assert json.loads(path.read_text())["token"] == "A's"
    monkeypatch.setattr(claims.os, "link", no_links)
    assert claims._remove_if(path, "A's") is True and list(tmp_path.iterdir()) == []


def test_a_newer_claim_that_slips_in_between_reading_and_removing_is_put_back(tmp_path, monkeypatch):
    path = Claim(tmp_path / "a.mp4").path
    path.write_text(json.dumps({"token": "dead"}))
    real_rename = os.rename

    def newer_claim_first(src, dst):  # the dead claim is replaced by a newer one just before the rename
        if str(src) == str(path):
            fresh = tmp_path / "fresh"
            fresh.write_text(json.dumps({"token": "newer"}))
            real_rename(fresh, path)
        return real_rename(src, dst)

    monkeypatch.setattr(claims.os, "rename", newer_claim_first)
    assert claims._remove_if(path, "dead") is False
    monkeypatch.undo()
    assert json.loads(path.read_text())["token"] == "newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4.evs-claim"]


def test_a_garbled_claim_judged_unreadable_is_removed_and_a_vanished_one_is_free(tmp_path, monkeypatch):
    import errno

    path = Claim(tmp_path / "a.mp4").path
    path.write_bytes(b"\xff\xfe garbled \x00")
    assert claims._remove_if(path, None) is True and not path.exists()  # judged with no token: unreadable
    path.write_bytes(b"\xff\xfe garbled \x00")

    def no_links(*args, **kw):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(claims.os, "link", no_links)
    assert claims._remove_if(path, None) is True and not path.exists()
    assert claims._remove_if(path, "anyone") is True  # nothing there: free


def test_a_claim_not_yet_acquired_holds_nothing(tmp_path):
    c = Claim(tmp_path / "a.mp4")
    with pytest.raises(EvsError, match="no longer held"):
        c.create_temp()  # first: renew() below would find out too
    assert not c.held and not c.renew()
    assert list(tmp_path.iterdir()) == []


def test_a_claim_on_an_output_whose_folders_do_not_exist_yet_makes_them(tmp_path):
    c = Claim(tmp_path / "out" / "sub" / "deeper" / "a.mp4")
    assert c.acquire() and c.held and c.path.is_file() and c.path.parent == tmp_path / "out" / "sub" / "deeper"
    c.release()


def test_a_claim_whose_folder_another_run_removed_as_empty_meanwhile_makes_it_again(tmp_path, monkeypatch):
    from evs_cli.batch.worker import claims as claims_module

    out = tmp_path / "out" / "sub" / "x.mp4"
    real_open, tries = os.open, []

    def open_after_removal(path, *args, **kw):
        if str(path).endswith(".evs-claim") and not tries:
            tries.append(path)
            (tmp_path / "out" / "sub").rmdir()  # the other run's remove_empty, between mkdir and open
        return real_open(path, *args, **kw)

    monkeypatch.setattr(claims_module.os, "open", open_after_removal)
    claim = claims_module.Claim(out)
    assert claim.acquire() and claim.path.is_file() and len(tries) == 1
    claim.release()
