"""The ledger (batch/ledger.py) and the dispatch loop over it (batch/dispatch.py), with a scripted backend:
which worker holds which video, and what a worker's death does to each video it held. No process, no Ray."""

from pathlib import Path

import pytest

from evs_cli.batch.dispatch import dispatch
from evs_cli.batch.events import Died, Finished, Loaded, Taken
from evs_cli.batch.ledger import Ledger
from evs_cli.batch.outputs import Job


def _jobs(n):
    return [Job(Path(f"in/v{i}.mp4"), Path(f"v{i}.mp4"), Path(f"out/v{i}.mp4")) for i in range(n)]


def test_videos_are_handed_out_up_to_each_workers_capacity_in_order():
    ledger = Ledger(_jobs(5), capacity=2)
    ledger.join("a")
    assert ledger.hand_out() == [("a", 0), ("a", 1)]
    ledger.join("b")
    assert ledger.hand_out() == [("b", 2), ("b", 3)] and ledger.hand_out() == []
    assert ledger.finish(1, {"status": "ok"})["output"] == "out/v1.mp4"
    assert ledger.hand_out() == [("a", 4)] and ledger.busy and not ledger.done


def test_a_worker_dying_with_three_videos_retries_each_once_then_fails_it_once():
    ledger = Ledger(_jobs(4), capacity=3, max_deaths=2)
    ledger.join("a")
    assert [i for _, i in ledger.hand_out()] == [0, 1, 2]
    held, failed = ledger.died("a", "actor a on n1", "killed")
    assert held == [0, 1, 2] and failed == [] and list(ledger.waiting) == [0, 1, 2, 3]  # back at the front
    ledger.join("b")
    assert [i for _, i in ledger.hand_out()] == [0, 1, 2]
    assert ledger.finish(1, {"status": "ok", "input": "/abs/in/v1.mp4"}) == {
        "status": "ok", "input": "in/v1.mp4", "output": "out/v1.mp4", "retried": 1,
        "retry_reasons": ["actor a on n1 died: killed"]}
    held, failed = ledger.died("b", "actor b on n2", "out of memory")
    assert held == [0, 2] and [i for i, _ in failed] == [0, 2]  # each failed exactly once, on its 2nd death
    assert failed[0][1]["status"] == "failed" and failed[0][1]["error"] == (
        "in/v0.mp4: 2 workers died while refining it (last: actor b on n2: out of memory)")
    assert failed[0][1]["retry_reasons"] == ["actor a on n1 died: killed", "actor b on n2 died: out of memory"]
    assert ledger.finish(0, {"status": "ok"}) is None  # a late event for a failed video is not a second end
    assert ledger.finished == {0, 1, 2} and list(ledger.waiting) == [3]


def test_without_retries_a_dead_workers_videos_fail_with_its_exit():
    ledger = Ledger(_jobs(3), capacity=3, max_deaths=1)
    ledger.join("1")
    ledger.hand_out()
    ledger.finish(2, {"status": "ok"})
    held, failed = ledger.died("1", "worker 1", "exit code -9")
    assert held == [0, 1] and [r["error"] for _, r in failed] == [
        "in/v0.mp4: worker 1 died (exit code -9)", "in/v1.mp4: worker 1 died (exit code -9)"]
    assert "retried" not in failed[0][1] and ledger.done


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
        return [Finished(worker, i, {"status": "ok", "worker": worker}) for w, i in backend.given if w == worker]
    return play


def test_dispatch_reports_each_video_once_across_a_death_and_a_replacement():
    backend = Scripted([[Loaded("a", "cpu")], [Taken("a", 0)], [Died("a", "worker a", "killed")],
                        [Loaded("b", "cpu")], _finish_given("b"), _finish_given("b")])  # 0-2 again: late
    seen = []
    dispatch(backend, _jobs(4), seen.append)
    done = [e for e in seen if isinstance(e, Finished)]
    assert sorted(e.index for e in done) == [0, 1, 2, 3] and all(e.record["status"] == "ok" for e in done)
    assert backend.lost_calls == [("a", [0, 1, 2], True)]
    assert [r for r in (e.record for e in done) if r.get("retried")] and backend.closed
    assert [e for e in seen if isinstance(e, Died)] == []  # deaths are the ledger's business, not the reporter's


def test_dispatch_fails_what_is_left_once_no_worker_can_go_on():
    backend = Scripted([[Loaded("a", "cpu")], [Finished("a", 0, {"status": "ok"})]])
    seen = []
    dispatch(backend, _jobs(3), seen.append)
    records = {e.index: e.record for e in seen if isinstance(e, Finished)}
    assert records[0]["status"] == "ok"
    assert [records[i]["error"] for i in (1, 2)] == ["in/v1.mp4: no worker left", "in/v2.mp4: no worker left"]


def test_an_interrupt_stops_the_backend_and_propagates():
    stopped = []

    def interrupt(backend):
        raise KeyboardInterrupt

    backend = Scripted([[Loaded("a", "cpu")], interrupt])
    backend.stop = lambda ledger: stopped.append(sorted(ledger.given))
    with pytest.raises(KeyboardInterrupt):
        dispatch(backend, _jobs(2), lambda e: None)
    assert stopped == [[0, 1]] and backend.closed
