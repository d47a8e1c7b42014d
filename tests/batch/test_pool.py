"""The local pool's workers against their parent's death: a kill -9 of `evs` must not leave an orphan
holding claims, even one whose clean-up hangs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
