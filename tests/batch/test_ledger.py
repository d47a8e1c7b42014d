"""The dispatcher's ledger (batch/dispatch/ledger.py): which worker holds which video, a video's clock, and what
a worker's death or a stuck step does to each video it held. No process, no Ray. (The seam's loop over it, with
a scripted backend: test_seam.py.)"""

from pathlib import Path

from evs_cli.batch.dispatch.ledger import Ledger
from evs_cli.batch.events import Read, Started, Taken
from evs_cli.batch.planning.outputs import Job
from helpers import record_of


def _jobs(n):
    return [Job(Path(f"in/v{i}.mp4"), Path(f"v{i}.mp4"), Path(f"out/v{i}.mp4")) for i in range(n)]


def test_videos_are_handed_out_up_to_each_workers_capacity_in_order():
    ledger = Ledger(_jobs(5), capacity=2)
    ledger.join("a")
    assert ledger.hand_out() == [("a", 0), ("a", 1)]
    ledger.join("b")
    assert ledger.hand_out() == [("b", 2), ("b", 3)] and ledger.hand_out() == []
    assert ledger.finish(1, record_of({"status": "ok"})).output == "out/v1.mp4"
    assert ledger.hand_out() == [("a", 4)] and ledger.busy and not ledger.done


def test_a_worker_dying_with_three_videos_retries_each_once_then_fails_it_once():
    ledger = Ledger(_jobs(4), capacity=3, max_deaths=2)
    ledger.join("a")
    assert [i for _, i in ledger.hand_out()] == [0, 1, 2]
    held, failed = ledger.died("a", "actor a on n1", "killed")
    assert held == [0, 1, 2] and failed == [] and list(ledger.waiting) == [0, 1, 2, 3]  # back at the front
    ledger.join("b")
    assert [i for _, i in ledger.hand_out()] == [0, 1, 2]
    assert ledger.finish(1, record_of({"status": "ok", "input": "/abs/in/v1.mp4"})).as_dict() == {
        "status": "ok", "input": "in/v1.mp4", "output": "out/v1.mp4", "worker": "-", "retried": 1,
        "retry_reasons": ["actor a on n1 died: killed"]}
    held, failed = ledger.died("b", "actor b on n2", "out of memory")
    assert held == [0, 2] and [i for i, _ in failed] == [0, 2]  # each failed exactly once, on its 2nd death
    assert failed[0][1].as_dict()["status"] == "failed" and failed[0][1].as_dict()["error"] == (
        "in/v0.mp4: 2 workers died while refining it (last: actor b on n2: out of memory)")
    assert failed[0][1].as_dict()["retry_reasons"] == ["actor a on n1 died: killed", "actor b on n2 died: out of memory"]
    assert ledger.finish(0, record_of({"status": "ok"})) is None  # a late event for a failed video is not a second end
    assert ledger.finished == {0, 1, 2} and list(ledger.waiting) == [3]


def test_without_retries_a_dead_workers_videos_fail_with_its_exit():
    ledger = Ledger(_jobs(3), capacity=3, max_deaths=1)
    ledger.join("1")
    ledger.hand_out()
    ledger.finish(2, record_of({"status": "ok"}))
    held, failed = ledger.died("1", "worker 1", "exit code -9")
    assert held == [0, 1] and [r.error for _, r in failed] == [
        "in/v0.mp4: worker 1 died (exit code -9)", "in/v1.mp4: worker 1 died (exit code -9)"]
    assert "retried" not in failed[0][1].as_dict() and ledger.done


def _running(n=3, capacity=1):
    ledger = Ledger(_jobs(n), capacity=capacity)
    ledger.join("a")
    ledger.hand_out()
    return ledger


def test_a_videos_clock_runs_while_it_is_read_and_on_the_device_not_while_it_waits_between():
    ledger = _running()
    ledger.timing(Taken("a", 0), now=100.0, read_limit=30.0)
    assert ledger.clock == {0: (100.0, 30.0)}
    ledger.timing(Read("a", 0), now=110.0, read_limit=30.0)
    assert ledger.clock == {}  # waiting for the device: no limit runs
    assert ledger.overdue(now=10_000.0, grace=5.0) == []
    ledger.timing(Started("a", 0, left=20.0), now=500.0, read_limit=30.0)
    assert ledger.clock == {0: (500.0, 20.0)}
    ledger.timing(Started("a", 1, left=None), now=500.0, read_limit=30.0)  # no limit: no clock
    ledger.timing(Taken("a", 2), now=500.0, read_limit=None)
    assert ledger.clock == {0: (500.0, 20.0)}
    ledger.timing(Read("a", 7), now=501.0, read_limit=None)  # a video without a clock: nothing to stop


def test_a_video_is_overdue_only_once_its_limit_and_the_grace_have_both_passed():
    ledger = _running()
    ledger.timing(Started("a", 0, left=20.0), now=100.0, read_limit=None)
    assert ledger.overdue(now=125.0, grace=5.0) == []  # exactly at limit + grace: not yet
    assert ledger.overdue(now=124.9, grace=5.0) == [] and ledger.overdue(now=120.1, grace=0.0) != []
    ledger = _running()
    ledger.timing(Started("a", 0, left=20.0), now=100.0, read_limit=None)
    [(worker, index, record)] = ledger.overdue(now=125.01, grace=5.0)
    assert (worker, index) == ("a", 0) and record.as_dict() == {
        "input": "in/v0.mp4", "output": "out/v0.mp4", "status": "failed", "worker": "a",
        "error": "in/v0.mp4: stuck past its time limit (--timeout); its worker was stopped"}
    assert ledger.finished == {0} and ledger.killed == {"a": [0]}
    assert ledger.overdue(now=500.0, grace=5.0) == []  # reported once


def test_a_read_limit_stops_a_worker_stuck_reading_and_each_worker_is_judged_on_its_own():
    ledger = Ledger(_jobs(4), capacity=2)
    ledger.join("a")
    ledger.join("b")
    assert ledger.hand_out() == [("a", 0), ("a", 1), ("b", 2), ("b", 3)]
    for i in range(4):
        ledger.timing(Taken("a" if i < 2 else "b", i), now=0.0, read_limit=10.0 + i)
    found = ledger.overdue(now=12.5, grace=1.0)  # v0 (10 + 1) and v1 (11 + 1) are past; one per worker at a time
    assert [(w, i) for w, i, _ in found] == [("a", 0)]
    assert [(w, i) for w, i, _ in ledger.overdue(now=14.5, grace=1.0)] == [("a", 1), ("b", 2)]


def test_a_stopped_workers_other_videos_go_back_first_without_a_death_and_its_stuck_claim_is_cleared():
    ledger = Ledger(_jobs(4), capacity=3, max_deaths=2)
    ledger.join("a")
    ledger.hand_out()
    ledger.timing(Started("a", 1, left=1.0), now=0.0, read_limit=None)
    ledger.overdue(now=10.0, grace=1.0)
    held, failed = ledger.died("a", "worker a", "killed")
    assert held == [0, 1, 2] and failed == []  # every claim it held is cleared, the stuck one's too
    assert list(ledger.waiting) == [0, 2, 3] and ledger.deaths[0] == 0 and ledger.killed == {}
    ledger.join("b")
    ledger.hand_out()
    assert ledger.finish(0, record_of({"status": "ok"})).as_dict() == {
        "status": "ok", "input": "in/v0.mp4", "output": "out/v0.mp4", "worker": "-"}


def test_a_workers_videos_fail_once_they_have_taken_max_deaths_workers_down_not_before():
    ledger = Ledger(_jobs(1), capacity=1, max_deaths=3)
    for n, worker in enumerate("abc", 1):
        ledger.join(worker)
        assert ledger.hand_out() == [(worker, 0)]
        held, failed = ledger.died(worker, f"worker {worker}", f"exit {n}")
        assert held == [0] and ledger.deaths[0] == n
        if n < 3:
            assert failed == [] and list(ledger.waiting) == [0]
    assert failed[0][1].as_dict()["error"] == "in/v0.mp4: 3 workers died while refining it (last: worker c: exit 3)"
    assert failed[0][1].as_dict()["worker"] == "c" and ledger.done and not ledger.busy
    assert ledger.died("gone", "worker gone", "x") == ([], [])  # a worker that held nothing


def test_what_is_left_fails_with_the_reason_and_only_what_is_left():
    ledger = _running(3)
    ledger.finish(1, record_of({"status": "ok"}))
    failed = ledger.fail_rest("no worker could start")
    assert [i for i, _ in failed] == [0, 2] and failed[1][1].as_dict() == {
        "input": "in/v2.mp4", "output": "out/v2.mp4", "status": "failed", "worker": "-",
        "error": "in/v2.mp4: no worker could start"}
    assert ledger.done and ledger.fail_rest("again") == []


def test_work_is_left_while_a_video_waits_or_a_worker_holds_one():
    ledger = Ledger(_jobs(1), capacity=1)
    assert ledger.busy and not ledger.done
    ledger.join("a")
    ledger.hand_out()
    assert ledger.busy and not ledger.waiting
    ledger.finish(0, record_of({"status": "ok"}))
    assert not ledger.busy and ledger.done and ledger.given == {0}
    assert Ledger([], capacity=1).done and not Ledger([], capacity=1).busy

