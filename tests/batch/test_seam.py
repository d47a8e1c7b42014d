"""The dispatcher's seam (batch/dispatch/seam.py) with a scripted backend: each video reported once across a
worker's death and its replacement, what is left failed once no worker can go on, an interrupt stopping the
backend, and a worker stuck past its limit stopped. No process, no Ray. (The ledger alone: test_ledger.py.)"""

from pathlib import Path

import pytest

from evs_cli.batch.dispatch.seam import dispatch
from evs_cli.batch.events import Died, Finished, Loaded, Started, Taken
from evs_cli.batch.planning.outputs import Job
from helpers import record_of


def _jobs(n):
    return [Job(Path(f"in/v{i}.mp4"), Path(f"v{i}.mp4"), Path(f"out/v{i}.mp4")) for i in range(n)]


class Scripted:
    """A backend whose workers do what the test says: each poll plays the next list of events."""

    capacity, max_deaths, read_limit = 3, 2, None

    def __init__(self, script):
        self.script, self.given, self.lost_calls, self.started, self.closed = list(script), [], [], 0, False

    def start(self):
        self.started += 1

    def poll(self, timeout):
        step = self.script.pop(0) if self.script else []
        return step(self) if callable(step) else step

    def give(self, worker, index):
        self.given.append((worker, index))

    def lost(self, worker, held, work_left):
        self.lost_calls.append((worker, held, work_left))

    def stalled(self, ledger):
        return None if self.script else "no worker left"

    def stop(self, ledger):
        pass

    def close(self):
        self.closed = True


def _finish_given(worker):
    def play(backend):
        return [Finished(worker, i, record_of({"status": "ok", "worker": worker})) for w, i in backend.given if w == worker]
    return play


def test_dispatch_reports_each_video_once_across_a_death_and_a_replacement():
    backend = Scripted([[Loaded("a", "cpu")], [Taken("a", 0)], [Died("a", "worker a", "killed")],
                        [Loaded("b", "cpu")], _finish_given("b"), _finish_given("b")])  # 0-2 again: late
    seen = []
    dispatch(backend, _jobs(4), seen.append)
    done = [e for e in seen if isinstance(e, Finished)]
    assert sorted(e.index for e in done) == [0, 1, 2, 3] and all(e.record.as_dict()["status"] == "ok" for e in done)
    assert backend.lost_calls == [("a", [0, 1, 2], True)]
    assert [r for r in (e.record.as_dict() for e in done) if r.get("retried")] and backend.closed
    assert [e for e in seen if isinstance(e, Died)] == []  # deaths are the ledger's business, not the reporter's


def test_dispatch_fails_what_is_left_once_no_worker_can_go_on():
    backend = Scripted([[Loaded("a", "cpu")], [Finished("a", 0, record_of({"status": "ok"}))]])
    seen = []
    dispatch(backend, _jobs(3), seen.append)
    records = {e.index: e.record.as_dict() for e in seen if isinstance(e, Finished)}
    assert records[0]["status"] == "ok"
    assert [records[i]["error"] for i in (1, 2)] == ["in/v1.mp4: no worker left", "in/v2.mp4: no worker left"]
    assert [e.worker for e in seen if isinstance(e, Finished)] == ["a", "-", "-"]  # no worker had those


def test_an_interrupt_stops_the_backend_and_propagates():
    stopped = []

    def interrupt(backend):
        raise KeyboardInterrupt

    backend = Scripted([[Loaded("a", "cpu")], interrupt])
    backend.stop = lambda ledger: stopped.append(sorted(ledger.given))
    with pytest.raises(KeyboardInterrupt):
        dispatch(backend, _jobs(2), lambda e: None)
    assert stopped == [[0, 1]] and backend.closed


def test_dispatch_stops_a_worker_stuck_past_its_limit_and_grace_and_reports_the_video_once(monkeypatch):
    from evs_cli.batch.dispatch import seam as dispatch_module

    now = [0.0]
    monkeypatch.setattr(dispatch_module.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(dispatch_module, "grace", lambda: 5.0)

    def at(t, *events):
        def play(backend):
            now[0] = t
            return list(events)
        return play

    backend = Scripted([[Loaded("a", "cpu")], at(0.0, Started("a", 0, left=10.0)), at(15.0), at(15.5),
                        at(16.0, Died("a", "worker a", "killed")), [Loaded("b", "cpu")], _finish_given("b")])
    backend.killed = []
    backend.kill = lambda worker, index: backend.killed.append((worker, index, now[0]))
    seen = []
    dispatch(backend, _jobs(2), seen.append)
    failed = [e for e in seen if isinstance(e, Finished) and e.record.as_dict()["status"] == "failed"]
    assert [(e.index, e.record.as_dict()["error"]) for e in failed] == [
        (0, "in/v0.mp4: stuck past its time limit (--timeout); its worker was stopped")]
    assert backend.killed == [("a", 0, 15.5)]  # once: at 15.5, past 10 + 5; not at 15.0; video 0 named
    assert backend.lost_calls == [("a", [0, 1], True)]  # video 1 goes back without a death; 0's claim is cleared
    assert sorted(e.index for e in seen if isinstance(e, Finished)) == [0, 1]
