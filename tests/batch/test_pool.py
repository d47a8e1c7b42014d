"""Local workers (batch/dispatch/pool.py): against their parent's death (a kill -9 of `evs` must not leave an
orphan holding claims, even one whose clean-up hangs), and the one-device run in this process, on the seam."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from evs_cli.batch.dispatch import pool
from evs_cli.batch.dispatch.pool import run_jobs
from evs_cli.batch.events import Finished, Loaded, Started, Taken
from evs_cli.batch.planning.outputs import Job
from helpers import record_of

WORKER = """
import os, signal, sys, time
from evs_cli.batch.dispatch.pool import _die_with_parent
signal.signal(signal.SIGTERM, lambda *a: print("interrupted", flush=True))  # a clean-up that never ends
_die_with_parent(os.getppid(), grace=2.0)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=open(sys.argv[2], "w"))
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.timeout(120)  # two Pythons start, and the grace is waited for (mutation testing's default is 8 s)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_worker_outlives_no_parent_and_its_hung_clean_up_gets_its_grace_and_no_more(tmp_path):
    said = tmp_path / "worker.out"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, WORKER, str(said)], stdout=subprocess.PIPE, text=True)
    worker = -1
    try:
        worker = int(parent.stdout.readline())
        assert _wait_for(lambda: "ready" in said.read_text(), 60)
        time.sleep(2.5)  # longer than the grace: a watcher that fired while the parent lives would have ended it
        assert _alive(worker) and "interrupted" not in said.read_text()
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        died = time.time()
        assert _wait_for(lambda: "interrupted" in said.read_text(), 5)  # told within a poll, as by Ctrl-C
        time.sleep(max(0.0, died + 1.0 - time.time()))
        assert _alive(worker)  # its clean-up is given the grace ...
        assert _wait_for(lambda: not _alive(worker), 15)  # ... and then it is ended
    finally:
        parent.kill()
        if worker > 0 and _alive(worker):
            os.kill(worker, signal.SIGKILL)


ORPHAN = """
import atexit, os, time
from evs_cli.batch.dispatch.pool import _exit_if_orphaned
class Events:
    def cancel_join_thread(self):
        print("not waiting for the pipe", flush=True)
atexit.register(lambda: print("teardown", flush=True))
parent = os.getppid()
_exit_if_orphaned(Events(), parent)
print("parent alive: a normal exit", flush=True)
while os.getppid() == parent:
    time.sleep(0.05)
_exit_if_orphaned(Events(), parent)
print("orphan: still here", flush=True)
"""


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_an_orphaned_worker_exits_without_the_teardown_that_takes_seconds_on_a_busy_machine(tmp_path):
    said = tmp_path / "worker.out"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, ORPHAN, str(said)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    assert _wait_for(lambda: "parent alive" in said.read_text(), 60)
    parent.kill()
    parent.wait()
    assert _wait_for(lambda: not _alive(worker), 15)
    assert said.read_text().splitlines() == ["parent alive: a normal exit", "not waiting for the pipe"]


class _Work:
    """A work whose worker says what `script` gives for each video (no model): the in-process backend's input."""

    read_limit = None
    capacity = 1

    def __init__(self, jobs, script):
        self.items, self.script, self.stuck = tuple(jobs), script, []

    def load(self, device):
        return SimpleNamespace(notes=("loaded on " + device,))

    def serve(self, worker, items, name, emit, stop=None):
        for i, job in items:
            for event in self.script(name, i, job):
                emit(event)

    def on_stuck(self, index):
        self.stuck.append(index)


def _jobs(n):
    return [Job(Path(f"in/v{i}.mp4"), Path(f"v{i}.mp4"), Path(f"out/v{i}.mp4")) for i in range(n)]


def test_a_one_device_run_goes_through_the_seam_one_record_each_as_the_user_named_them():
    jobs = _jobs(2)

    def script(name, i, job):
        rec = record_of({"input": "resolved/elsewhere", "output": "x", "status": "ok"})
        return [Taken(name, i), Started(name, i, 30.0), Finished(name, i, rec), Finished(name, i, rec)]

    seen = []
    run_jobs(jobs, ["cpu"], _Work(jobs, script), seen.append)
    assert seen[0] == Loaded("0", "cpu", notes=("loaded on cpu",))
    finished = [e for e in seen if isinstance(e, Finished)]
    assert [(e.index, e.record.as_dict()["input"], e.record.as_dict()["output"]) for e in finished] == [
        (0, "in/v0.mp4", "out/v0.mp4"), (1, "in/v1.mp4", "out/v1.mp4")]  # a late second Finished is dropped
    assert [type(e).__name__ for e in seen].count("Taken") == 2


def test_a_one_device_run_fails_a_video_stuck_past_its_limit_and_grace_marks_it_and_ends(monkeypatch, capsys):
    monkeypatch.setenv("EVS_TIMEOUT_GRACE", "0.5")
    jobs = _jobs(2)
    ended = threading.Event()
    monkeypatch.setattr(pool.os, "_exit", lambda code: (seen.append(("exit", code)), ended.set()))
    monkeypatch.setattr(pool, "shutdown_claims", lambda: seen.append("claims released"))

    def script(name, i, job):
        yield Taken(name, i)
        yield Started(name, i, 0.2)  # 0.2 s left, and 0.5 s of grace: killed after 0.7 s, at the watchdog's next look
        ended.wait(20)  # stuck inside one step

    seen = []
    work = _Work(jobs, script)
    started = time.monotonic()
    run_jobs(jobs[:1], ["cpu"], work, seen.append)
    assert 0.7 < time.monotonic() - started < 10
    failed = [e for e in seen if isinstance(e, Finished)]
    assert len(failed) == 1 and failed[0].record.as_dict()["status"] == "failed"
    assert failed[0].record.as_dict()["error"] == "in/v0.mp4: stuck past its time limit (--timeout); its worker was stopped"
    assert work.stuck == [0] and seen[-2:] == ["claims released", ("exit", 1)]
    assert "evs: error: the run stops here (this process cannot stop a stuck step)" in capsys.readouterr().err
