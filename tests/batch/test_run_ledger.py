"""The run's ledger (batch/run_ledger.py) takes a run's typed events after the dispatcher: one log record per
video, the videos another run held until they are judged again, the workers that could not start, the closing
counts, and what the run ends as (the exit code). It tells the reporter; these tests read what that shows too.
No process, no model."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from evs_cli.batch.events import Fatal, Finished, Loaded, StageDone, Started, Taken
from evs_cli.batch.planning.outputs import Job
from evs_cli.batch.planning.plan import Action, Decision
from evs_cli.batch.report import Reporter
from evs_cli.batch.run_ledger import Outcome, RunLedger, outcome
from evs_cli.batch.run_log import RunLog
from evs_cli.engine.schedule import StageReport
from helpers import record_of


def _jobs(n):
    return [Job(Path(f"in/v{i}.mp4"), Path(f"v{i}.mp4"), Path(f"out/v{i}.mp4")) for i in range(n)]


def _ledger(jobs, log, quiet, n_stages):
    return RunLedger(jobs, Reporter(jobs, log, quiet=quiet, n_stages=n_stages), RunLog(log) if log else None)


def test_events_become_one_record_each_in_the_log_and_one_line_each_on_a_pipe(tmp_path, capsys):
    jobs = _jobs(3)
    plan = SimpleNamespace(closed=lambda: [Decision(Action.SKIP, "output exists").record(jobs[0], "s")],
                           todo=jobs[1:])
    log = tmp_path / "logs" / "run.jsonl"
    r = _ledger(jobs, log, quiet=False, n_stages=3)
    r.record_plan(plan)
    for event in (Loaded("0", "cpu"), Taken("0", 0), Started("0", 0), StageDone("0", 0, StageReport(0, "t2i", "sdedit", [])),
                  Finished("0", 0, record_of({"input": "in/v1.mp4", "output": "out/v1.mp4", "status": "ok",
                                    "seconds": {"total": 2.5}})),
                  Fatal("1", "cuda:1", "no such model"),
                  Finished("-", 1, record_of({"input": "in/v2.mp4", "output": "out/v2.mp4", "status": "failed",
                                    "error": "in/v2.mp4: worker 1 died (exit code -9)"}))):
        r(event)
    counts = r.close(summary=False)
    assert counts == {"skipped": 1, "ok": 1, "failed": 1}
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["output"], x["status"]) for x in records] == [("out/v0.mp4", "skipped"), ("out/v1.mp4", "ok"),
                                                             ("out/v2.mp4", "failed")]
    assert len({x["run_id"] for x in records}) == 1 and all("finished" in x and "evs_version" in x for x in records)
    err = capsys.readouterr().err.splitlines()
    assert "1/2\tok\tin/v1.mp4\tout/v1.mp4\t2.5 s" in err  # counted over the videos that go to a worker
    assert "evs: error: worker 1 on cuda:1 could not start: no such model" in err
    assert "evs: error: in/v2.mp4: worker 1 died (exit code -9)" in err
    assert r.fatal == ["worker 1 (cuda:1): no such model"]

def test_quiet_prints_only_errors_and_the_summary_names_what_was_left_undone(tmp_path, capsys):
    jobs = _jobs(2)
    r = _ledger(jobs, None, quiet=True, n_stages=1)
    r.record_plan(SimpleNamespace(closed=list, todo=jobs))
    r(Loaded("0", "cpu"))
    r(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {"total": 1}})))
    assert r.close() == {"ok": 1} and capsys.readouterr().err == ""
    loud = _ledger(jobs, None, quiet=False, n_stages=1)
    loud.record_plan(SimpleNamespace(closed=list, todo=jobs))
    loud(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {"total": 1}})))
    loud.close()
    err = capsys.readouterr().err
    assert "not done: 1 video (interrupted; rerun the same command to finish them)" in err

def test_the_failures_are_named_again_after_the_summary_table(capsys):
    """They scrolled by during the run: after the table, one 'failed:' line each, in the order they failed."""
    jobs = _jobs(3)
    r = _ledger(jobs, None, quiet=False, n_stages=1)
    r.record_plan(SimpleNamespace(closed=list, todo=jobs))
    for i, status in enumerate(("failed", "ok", "failed")):
        rec = {"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": status, "seconds": {"total": 1}}
        r(Finished("0", i, record_of({**rec, "error": f"in/v{i}.mp4: not a video"} if status == "failed" else rec)))
    assert r.close() == {"ok": 1, "failed": 2}
    err = capsys.readouterr().err.splitlines()
    table_end = max(i for i, line in enumerate(err) if "ok" in line and "│" in line)
    assert [line for line in err[table_end:] if line.startswith("failed:")] == [
        "failed: in/v0.mp4: not a video", "failed: in/v2.mp4: not a video"]

def test_a_held_video_the_other_run_finished_meanwhile_counts_as_skipped_and_one_still_without_output_as_held(
        tmp_path):
    """Before a run ends its held videos are judged again: only one still without an output keeps exit 75."""
    jobs = _jobs(3)
    judged = {jobs[0].output: Decision(Action.SKIP, "output exists, made with the same settings"),
              jobs[1].output: Decision(Action.REFINE, "")}
    plan = SimpleNamespace(closed=list, todo=jobs, judge=lambda job: judged[job.output], settings="s")
    log = tmp_path / "run.jsonl"
    r = _ledger(jobs, log, quiet=True, n_stages=1)
    r.record_plan(plan)
    for i in (0, 1):
        r(Finished("0", i, record_of({"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": "held",
                            "reason": "another live run holds it"})))
    r(Finished("0", 2, record_of({"input": "in/v2.mp4", "output": "out/v2.mp4", "status": "ok", "seconds": {"total": 1}})))
    assert r.held == jobs[:2] and "held" not in log.read_text()  # not written until judged again
    r.settle_held(plan)
    assert r.held == [] and r.close(summary=False) == {"skipped": 1, "held": 1, "ok": 1}
    recs = {x["output"]: x for x in map(json.loads, log.read_text().splitlines())}
    assert recs[str(jobs[0].output)]["reason"] == "output exists, made with the same settings"
    assert recs["out/v1.mp4"]["reason"] == "another live run holds it"

def test_held_videos_not_judged_again_are_logged_as_held_when_the_run_closes(tmp_path):
    jobs = _jobs(1)
    log = tmp_path / "run.jsonl"
    r = _ledger(jobs, log, quiet=True, n_stages=1)
    r.record_plan(SimpleNamespace(closed=list, todo=jobs))
    r(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "held"})))
    assert r.close(summary=False) == {"held": 1}  # an interrupted run still logs what it saw
    assert [json.loads(x)["status"] for x in log.read_text().splitlines()] == ["held"]

def test_a_pipe_line_and_the_summary_give_each_videos_own_seconds_and_the_runs_rate(tmp_path, capsys, monkeypatch):
    from evs_cli.batch import report as report_module

    jobs = _jobs(2)
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "perf_counter", lambda: clock[0])
    r = _ledger(jobs, None, quiet=False, n_stages=3)
    r.record_plan(SimpleNamespace(closed=lambda: [], todo=jobs))
    for i, (steps, total) in enumerate(((3.9, 28.1), (2.1, 2.2))):
        r(Finished("0", i, record_of({"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": "ok",
                            "seconds": {"total": total, "steps": steps, "waited": total - steps}})))
    clock[0] = 136.0  # 36 s of wall time for 2 videos: 200 an hour
    r.close()
    err = capsys.readouterr().err
    assert "1/2\tok\tin/v0.mp4\tout/v0.mp4\t3.9 s" in err.splitlines()  # its steps, not its 24 s in the queue
    assert "evs refine: 2 videos in 36.0 s, 200 videos/hour" in err
    row = next(line for line in err.splitlines() if line.strip("│ ").startswith("ok"))
    assert "3.00" in row  # the mean of 3.9 and 2.1


@pytest.mark.parametrize("counts,log_failed,fatal,devices,expected", [
    ({"ok": 3, "skipped": 2}, False, 0, 1, Outcome.OK),
    ({}, False, 0, 2, Outcome.OK),  # nothing selected: nothing left undone
    ({"ok": 3, "failed": 1}, False, 0, 1, Outcome.FAILED),
    ({"ok": 3}, True, 0, 1, Outcome.FAILED),  # every video refined, but its log could not be written
    ({"ok": 1, "held": 2}, False, 0, 1, Outcome.HELD),
    ({"failed": 1, "held": 2}, False, 0, 1, Outcome.FAILED),  # a failure outweighs a hold
    ({"failed": 4}, False, 2, 2, Outcome.SETUP),  # no worker could start
    ({"ok": 4}, False, 1, 2, Outcome.OK),  # one of two devices could not start: the other refined all
    ({"failed": 4}, False, 1, 2, Outcome.FAILED),
    ({"failed": 4}, False, 3, 0, Outcome.FAILED),  # on Ray: actors that cannot start end the run sooner
    ({"ok": 0, "held": 0, "failed": 0}, False, 0, 1, Outcome.OK),
])
def test_a_run_ends_as_its_worst_outcome(counts, log_failed, fatal, devices, expected):
    assert outcome(counts, log_failed, fatal, devices) is expected


def test_the_exit_code_is_decided_from_the_ledger_workers_that_could_not_start_a_held_video_and_a_lost_log(tmp_path):
    jobs = _jobs(2)
    plan = SimpleNamespace(closed=list, todo=jobs)
    run = _ledger(jobs, None, quiet=True, n_stages=1)
    run.record_plan(plan)
    run(Fatal("0", "cuda:0", "out of memory"))
    run(Fatal("1", "cuda:1", "out of memory"))
    for i in (0, 1):
        run(Finished("-", i, record_of({"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": "failed", "error": "x"})))
    run.close(summary=False)
    assert run.outcome(local_devices=2) is Outcome.SETUP and run.outcome(local_devices=3) is Outcome.FAILED
    held = _ledger(jobs, None, quiet=True, n_stages=1)
    held.record_plan(plan)
    held(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {}})))
    assert held.outcome(1) is Outcome.OK  # judged on what is closed so far
    held(Finished("0", 1, record_of({"input": "in/v1.mp4", "output": "out/v1.mp4", "status": "held"})))
    held.close(summary=False)  # the held video is closed as held
    assert held.outcome(1) is Outcome.HELD
    log = tmp_path / "run.jsonl"
    lost = _ledger(jobs[:1], log, quiet=True, n_stages=1)
    lost.record_plan(SimpleNamespace(closed=list, todo=jobs[:1]))
    lost.log.error = "run.jsonl: cannot write the log (No space left on device)"  # as a full disk leaves it
    lost(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {}})))
    lost.close(summary=False)
    assert lost.outcome(1) is Outcome.FAILED


def test_a_record_gets_the_runs_fields_once_and_events_index_the_round_that_runs(tmp_path, capsys):
    jobs = _jobs(3)
    log = tmp_path / "run.jsonl"
    run = _ledger(jobs, log, quiet=False, n_stages=1)
    run.record_plan(SimpleNamespace(closed=list, todo=jobs[1:]))  # index 0 is now jobs[1]
    run(Finished("0", 0, record_of({"input": "in/v1.mp4", "output": "out/v1.mp4", "status": "held"})))
    assert run.held == [jobs[1]]
    run(Finished("0", 1, record_of({"input": "in/v2.mp4", "output": "out/v2.mp4", "status": "ok", "seconds": {}})))
    run.close(summary=False)
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["output"] for r in recs] == ["out/v2.mp4", "out/v1.mp4"]
    assert recs[0]["run_id"] == recs[1]["run_id"] == run.run_fields["run_id"] and len(recs[0]["run_id"]) == 12
    assert recs[0]["command"] == run.run_fields["command"] and recs[0]["finished"].endswith("+00:00")
    assert "1/2\tok\tin/v2.mp4" in capsys.readouterr().err


def test_the_plan_says_how_many_outputs_exist_already_before_any_model_loads(capsys):
    jobs = _jobs(5)
    closed = [Decision(Action.SKIP, "output exists").record(jobs[0], "s"),
              Decision(Action.SKIP, "output exists").record(jobs[1], "s"),
              Decision(Action.FAIL, "out/v2.mp4: made with other settings").record(jobs[2], "s")]
    run = _ledger(jobs, None, quiet=False, n_stages=1)
    run.record_plan(SimpleNamespace(closed=lambda: closed, todo=jobs[3:]))
    err = capsys.readouterr().err
    assert "evs: 2 of 5 outputs exist already (skipped; --overwrite redoes them)" in err
    assert run.reporter.to_run == 2 and run.indexed == jobs[3:]


def test_an_aliases_record_is_logged_once_and_not_counted_as_a_video_given_to_a_worker(tmp_path, capsys):
    jobs = _jobs(2)
    log = tmp_path / "run.jsonl"
    run = _ledger(jobs, log, quiet=False, n_stages=1)
    run.record_plan(SimpleNamespace(closed=list, todo=jobs[:1]))
    run(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {}})))
    run.closed(record_of({"input": "in/v1.mp4", "output": "out/v1.mp4", "status": "ok", "linked_from": "out/v0.mp4",
                          "reason": "same file as in/v0.mp4: hard link"}))
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("1/1\tok\tin/v0.mp4\tout/v0.mp4\t") for line in err)
    assert "-\tok\tin/v1.mp4\tout/v1.mp4\tsame file as in/v0.mp4: hard link" in err
    assert run.close(summary=False) == {"ok": 2}
    assert [json.loads(x)["linked_from"] for x in log.read_text().splitlines()[1:]] == ["out/v0.mp4"]


def test_held_videos_whose_claim_is_free_are_judged_again_refined_or_closed_as_the_plan_says_now(tmp_path):
    jobs = _jobs(4)
    judged = {jobs[0].output: Decision(Action.REFINE, ""), jobs[1].output: Decision(Action.SKIP, "output exists"),
              jobs[2].output: Decision(Action.FAIL, "out/v2.mp4: made with other settings", "ffff"),
              jobs[3].output: Decision(Action.FAIL, "out/v3.mp4: made with other settings", "eeee")}
    plan = SimpleNamespace(closed=list, todo=jobs, judge=lambda job: judged[job.output], settings="s")
    log = tmp_path / "run.jsonl"
    run = _ledger(jobs, log, quiet=True, n_stages=1)
    run.record_plan(plan)
    for i in range(4):
        run(Finished("0", i, record_of({"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": "held"})))
    todo = run.judge_again(jobs[:3], plan)  # v3's claim is still held
    assert todo == [jobs[0]] and run.indexed == [jobs[0]] and run.held == [jobs[3]]
    run(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {}})))
    run.settle_held(plan)  # v3 is judged now: another run made it with other settings
    assert run.close(summary=False) == {"skipped": 1, "ok": 1, "failed": 2}
    recs = {x["output"]: x for x in map(json.loads, log.read_text().splitlines())}
    assert recs["out/v1.mp4"]["reason"] == "output exists" and recs["out/v0.mp4"]["status"] == "ok"
    assert (recs["out/v2.mp4"]["settings"], recs["out/v2.mp4"]["output_settings"]) == ("s", "ffff")
    assert (recs["out/v3.mp4"]["settings"], recs["out/v3.mp4"]["output_settings"]) == ("s", "eeee")


def test_a_held_video_moves_the_bar_only_when_closed_and_a_lost_log_is_said_and_summed_up(tmp_path, capsys):
    from rich.progress import Progress

    jobs = _jobs(1)
    log = tmp_path / "run.jsonl"
    run = _ledger(jobs, log, quiet=False, n_stages=1)
    run.reporter.progress = Progress()  # as on a terminal, not started
    run.reporter.overall, run.reporter.workers = run.reporter.progress.add_task("videos", total=1), {}
    run(Loaded("0", "cpu"))
    run(StageDone("0", 0, StageReport(0, "t2i", "sdedit", [])))
    run(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "held"})))
    assert run.reporter._shown == {}  # set aside: its stages' share is not counted twice when it closes
    full = "run.jsonl: cannot write the log (No space left on device)"

    def full_disk(rec):  # as RunLog.write on a full disk: says it once, and keeps why
        run.log.error = full
        return full

    run.log.write = full_disk
    run.close()
    err = capsys.readouterr().err.splitlines()
    assert f"evs: error: {full}" in err and f"failed: {full}" in err  # when it happened, and after the table
    assert run.outcome(1) is Outcome.FAILED


def test_close_without_a_summary_prints_none(capsys):
    jobs = _jobs(1)
    run = _ledger(jobs, None, quiet=False, n_stages=1)
    run.record_plan(SimpleNamespace(closed=list, todo=jobs))
    run(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {}})))
    capsys.readouterr()
    run.close(summary=False)
    assert capsys.readouterr().err == ""
