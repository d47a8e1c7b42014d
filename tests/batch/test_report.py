"""The reporter (batch/report.py) shows a run as its ledger tells it: the overall bar by stages, and the
closing lines when nothing ended. (Records, the log and the counts: test_run_ledger.py.) No process, no model."""

from collections import Counter
from pathlib import Path

from evs_cli.batch.events import Finished, Loaded, StageDone, Started
from evs_cli.batch.planning.outputs import Job
from evs_cli.batch.report import Reporter
from evs_cli.batch.run_ledger import RunLedger
from evs_cli.engine.schedule import StageReport
from helpers import record_of


def _jobs(n):
    return [Job(Path(f"in/v{i}.mp4"), Path(f"v{i}.mp4"), Path(f"out/v{i}.mp4")) for i in range(n)]


def test_the_overall_bar_moves_with_each_stage_and_a_video_counts_once_whole():
    from rich.progress import Progress

    jobs = _jobs(2)
    r = Reporter(jobs, None, quiet=True, n_stages=3)
    r.progress = Progress()  # as on a terminal, not started
    r.overall, r.workers = r.progress.add_task("videos", total=2), {}
    run = RunLedger(jobs, r)
    run(Loaded("0", "cpu"))
    run(Started("0", 0))
    completed = []
    for k in range(3):
        run(StageDone("0", 0, StageReport(k, "t2i", "sdedit", [])))
        completed.append(r.progress.tasks[r.overall].completed)
    assert completed == [0.25, 0.5, 0.75]  # three stages of four shares: writing is the last
    run(Finished("0", 0, record_of({"input": "in/v0.mp4", "output": "out/v0.mp4", "status": "ok"})))
    assert r.progress.tasks[r.overall].completed == 1.0
    run(Finished("0", 1, record_of({"input": "in/v1.mp4", "output": "out/v1.mp4", "status": "failed", "error": "x"})))
    assert r.progress.tasks[r.overall].completed == 2.0 and r._shown == {}


def test_an_interrupt_before_any_video_ended_prints_no_empty_table_and_no_removed_folder(tmp_path, capsys):
    jobs = [Job(tmp_path / "in" / f"v{i}.mp4", Path(f"v{i}.mp4"), tmp_path / "out" / f"v{i}.mp4") for i in range(2)]
    r = Reporter(jobs, None, quiet=False, n_stages=3)
    r.close([], Counter(), None)
    err = capsys.readouterr().err
    assert err.splitlines() == ["not done: 2 videos (interrupted; rerun the same command to finish them)"]
    (tmp_path / "out").mkdir()
    r = Reporter(jobs, None, quiet=False, n_stages=3)
    r.close([], Counter(), None)
    assert capsys.readouterr().err.splitlines()[-1] == f"outputs: {tmp_path / 'out'}"

