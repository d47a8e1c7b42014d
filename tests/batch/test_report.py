"""The reporter (batch/report.py) consumes a run's typed events: one log record per video, the plain lines
a pipe gets, the workers that could not start, and the closing counts. No process, no model."""

import json
from pathlib import Path
from types import SimpleNamespace

from evs_cli.batch.events import Fatal, Finished, Loaded, StageDone, Started, Taken
from evs_cli.batch.planning.outputs import Job
from evs_cli.batch.planning.plan import Action, Decision
from evs_cli.batch.report import Reporter


def _jobs(n):
    return [Job(Path(f"in/v{i}.mp4"), Path(f"v{i}.mp4"), Path(f"out/v{i}.mp4")) for i in range(n)]


def test_events_become_one_record_each_in_the_log_and_one_line_each_on_a_pipe(tmp_path, capsys):
    jobs = _jobs(3)
    plan = SimpleNamespace(closed=lambda: [Decision(Action.SKIP, "output exists").record(jobs[0], "s")],
                           todo=jobs[1:])
    log = tmp_path / "logs" / "run.jsonl"
    r = Reporter(jobs, log, quiet=False, n_stages=3)
    r.record_plan(plan)
    for event in (Loaded("0", "cpu"), Taken("0", 0), Started("0", 0), StageDone("0", 0, {"index": 0}),
                  Finished("0", 0, {"input": "in/v1.mp4", "output": "out/v1.mp4", "status": "ok",
                                    "seconds": {"total": 2.5}}),
                  Fatal("1", "cuda:1", "no such model"),
                  Finished("-", 1, {"input": "in/v2.mp4", "output": "out/v2.mp4", "status": "failed",
                                    "error": "in/v2.mp4: worker 1 died (exit code -9)"})):
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
    r = Reporter(jobs, None, quiet=True, n_stages=1)
    r.record_plan(SimpleNamespace(closed=list, todo=jobs))
    r(Loaded("0", "cpu"))
    r(Finished("0", 0, {"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {"total": 1}}))
    assert r.close() == {"ok": 1} and capsys.readouterr().err == ""
    loud = Reporter(jobs, None, quiet=False, n_stages=1)
    loud.record_plan(SimpleNamespace(closed=list, todo=jobs))
    loud(Finished("0", 0, {"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok", "seconds": {"total": 1}}))
    loud.close()
    err = capsys.readouterr().err
    assert "not done: 1 video (interrupted; rerun the same command to finish them)" in err


def test_the_failures_are_named_again_after_the_summary_table(capsys):
    """They scrolled by during the run: after the table, one 'failed:' line each, in the order they failed."""
    jobs = _jobs(3)
    r = Reporter(jobs, None, quiet=False, n_stages=1)
    r.record_plan(SimpleNamespace(closed=list, todo=jobs))
    for i, status in enumerate(("failed", "ok", "failed")):
        rec = {"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": status, "seconds": {"total": 1}}
        r(Finished("0", i, {**rec, "error": f"in/v{i}.mp4: not a video"} if status == "failed" else rec))
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
    r = Reporter(jobs, log, quiet=True, n_stages=1)
    r.record_plan(plan)
    for i in (0, 1):
        r(Finished("0", i, {"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": "held",
                            "reason": "another live run holds it"}))
    r(Finished("0", 2, {"input": "in/v2.mp4", "output": "out/v2.mp4", "status": "ok", "seconds": {"total": 1}}))
    assert r.held == jobs[:2] and "held" not in log.read_text()  # not written until judged again
    r.settle_held(plan)
    assert r.held == [] and r.close(summary=False) == {"skipped": 1, "held": 1, "ok": 1}
    recs = {x["output"]: x for x in map(json.loads, log.read_text().splitlines())}
    assert recs[str(jobs[0].output)]["reason"] == "output exists, made with the same settings"
    assert recs["out/v1.mp4"]["reason"] == "another live run holds it"


def test_held_videos_not_judged_again_are_logged_as_held_when_the_run_closes(tmp_path):
    jobs = _jobs(1)
    log = tmp_path / "run.jsonl"
    r = Reporter(jobs, log, quiet=True, n_stages=1)
    r.record_plan(SimpleNamespace(closed=list, todo=jobs))
    r(Finished("0", 0, {"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "held"}))
    assert r.close(summary=False) == {"held": 1}  # an interrupted run still logs what it saw
    assert [json.loads(x)["status"] for x in log.read_text().splitlines()] == ["held"]


def test_a_pipe_line_and_the_summary_give_each_videos_own_seconds_and_the_runs_rate(tmp_path, capsys, monkeypatch):
    from evs_cli.batch import report as report_module

    jobs = _jobs(2)
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "perf_counter", lambda: clock[0])
    r = Reporter(jobs, None, quiet=False, n_stages=3)
    r.record_plan(SimpleNamespace(closed=lambda: [], todo=jobs))
    for i, (steps, total) in enumerate(((3.9, 28.1), (2.1, 2.2))):
        r(Finished("0", i, {"input": f"in/v{i}.mp4", "output": f"out/v{i}.mp4", "status": "ok",
                            "seconds": {"total": total, "steps": steps, "waited": total - steps}}))
    clock[0] = 136.0  # 36 s of wall time for 2 videos: 200 an hour
    r.close()
    err = capsys.readouterr().err
    assert "1/2\tok\tin/v0.mp4\tout/v0.mp4\t3.9 s" in err.splitlines()  # its steps, not its 24 s in the queue
    assert "evs refine: 2 videos in 36.0 s, 200 videos/hour" in err
    row = next(line for line in err.splitlines() if line.strip("│ ").startswith("ok"))
    assert "3.00" in row  # the mean of 3.9 and 2.1


def test_the_overall_bar_moves_with_each_stage_and_a_video_counts_once_whole():
    from rich.progress import Progress

    jobs = _jobs(2)
    r = Reporter(jobs, None, quiet=True, n_stages=3)
    r.progress = Progress()  # as on a terminal, not started
    r.overall, r.workers = r.progress.add_task("videos", total=2), {}
    r(Loaded("0", "cpu"))
    r(Started("0", 0))
    completed = []
    for k in range(3):
        r(StageDone("0", 0, {"index": k}))
        completed.append(r.progress.tasks[r.overall].completed)
    assert completed == [0.25, 0.5, 0.75]  # three stages of four shares: writing is the last
    r(Finished("0", 0, {"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok"}))
    assert r.progress.tasks[r.overall].completed == 1.0
    r(Finished("0", 1, {"input": "in/v1.mp4", "output": "out/v1.mp4", "status": "failed", "error": "x"}))
    assert r.progress.tasks[r.overall].completed == 2.0 and r._shown == {}


def test_an_interrupt_before_any_video_ended_prints_no_empty_table_and_no_removed_folder(tmp_path, capsys):
    jobs = [Job(tmp_path / "in" / f"v{i}.mp4", Path(f"v{i}.mp4"), tmp_path / "out" / f"v{i}.mp4") for i in range(2)]
    r = Reporter(jobs, None, quiet=False, n_stages=3)
    r.close()
    err = capsys.readouterr().err
    assert err.splitlines() == ["not done: 2 videos (interrupted; rerun the same command to finish them)"]
    (tmp_path / "out").mkdir()
    r = Reporter(jobs, None, quiet=False, n_stages=3)
    r.close()
    assert capsys.readouterr().err.splitlines()[-1] == f"outputs: {tmp_path / 'out'}"
