"""The planner (batch/planning/plan.py): one decision per video, the same for the dry run, the local and the Ray run;
grids on the model's own scheduler config. No subprocess, no model."""

import json
import os
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from evs_cli.batch.options import OutputPolicy, Request, RunOptions
from evs_cli.batch.planning.outputs import Job
from evs_cli.batch.planning.plan import Action, Decision, decide, make_plan
from evs_cli.batch.planning.settings import TAG_PREFIX, Made, input_id, prompt_key
from evs_cli.engine.loaders.sources import SD15_CONFIG
from evs_cli.engine.preset import load_preset, parse_override
from evs_cli.errors import EvsError
from evs_cli.io.video import write_mp4

SETTINGS = "0123456789abcdef"
LEGACY = "00112233445566aa"  # what evs 0.1 would have written for this run (it also hashed the prompts)


def _mp4(path, comment=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(torch.zeros(2, 16, 16, 3, dtype=torch.uint8), path, Fraction(8), comment=comment)
    return path


PROMPT = "a red circle"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    (root / "png").mkdir()
    (root / "png" / "00000.png").write_bytes(b"frame")
    (root / "empty").mkdir()
    (root / "plain.mp4").write_bytes(b"an earlier result")
    source = root / "in" / "clip.mp4"
    source.parent.mkdir()
    source.write_bytes(b"the input video")
    made = Made(SETTINGS, prompt_key(PROMPT), input_id(source))
    touched = root / "in" / "touched.mp4"  # the same content, another time: a copy, a `touch`
    touched.write_bytes(b"the input video")
    os.utime(touched, ns=(1, 1))
    replaced = root / "in" / "replaced.mp4"  # the same size, another time and content: found by the hash
    replaced.write_bytes(b"another video!!")
    os.utime(replaced, ns=(2, 2))
    tagged = _mp4(root / "same-full.mp4", made.tag())
    return {"none": (source, root / "absent.mp4"), "same": (source, _mp4(root / "same.mp4", TAG_PREFIX + SETTINGS)),
            "other": (source, _mp4(root / "other.mp4", TAG_PREFIX + "fedcba9876543210")),
            "untagged": (source, root / "plain.mp4"), "png folder": (source, root / "png"),
            "empty folder": (source, root / "empty"), "same, with prompt and input": (source, tagged),
            "same, another prompt": (source, _mp4(root / "prompt.mp4", Made(SETTINGS, prompt_key("a blue circle"),
                                                                             made.input).tag())),
            "evs 0.1, nothing changed": (source, _mp4(root / "legacy.mp4", TAG_PREFIX + LEGACY)),
            "same, input touched": (touched, tagged), "same, input replaced": (replaced, tagged),
            "same, input gone": (root / "in" / "gone.mp4", tagged)}


SAME_SKIP = "output exists, made with the same settings"
UNTAGGED_SKIP = "output exists (it records no evs settings: an older evs, or a png folder)"
CHANGED = "the input changed since its output was made"

# existing output -> (decision with --resume same, with --resume any); --overwrite refines every row.
TABLE = {
    "none": (("refine", ""), ("refine", "")),
    "empty folder": (("refine", ""), ("refine", "")),
    "same": (("skip", SAME_SKIP), ("skip", "output exists")),
    "other": (("fail", ("exists, made with other settings (fedcba9876543210; this run: 0123456789abcdef); "
                        "--overwrite redoes it, --resume any keeps it")), ("skip", "output exists")),
    "untagged": (("skip", UNTAGGED_SKIP), ("skip", "output exists")),
    "png folder": (("skip", UNTAGGED_SKIP), ("skip", "output exists")),
    "same, with prompt and input": (("skip", SAME_SKIP), ("skip", "output exists")),
    "same, another prompt": (("fail", "exists, made with another prompt (its prompt changed since); --overwrite "
                              "redoes it, --resume any keeps it"), ("skip", "output exists")),
    "same, input touched": (("skip", SAME_SKIP), ("skip", "output exists")),
    "evs 0.1, nothing changed": (("skip", SAME_SKIP), ("skip", "output exists")),
    "same, input replaced": (("refine", CHANGED), ("refine", CHANGED)),
    "same, input gone": (("refine", CHANGED), ("refine", CHANGED)),
}


@pytest.mark.parametrize("existing", sorted(TABLE))
@pytest.mark.parametrize("resume", ["same", "any"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_decision_table_of_existing_outputs_settings_prompts_inputs_and_resume(outputs, existing, resume, overwrite):
    source, output = outputs[existing]
    job = Job(source, Path(source.name), output)
    d = decide(job, OutputPolicy(overwrite=overwrite, resume=resume), SETTINGS, PROMPT, LEGACY)
    action, reason = ("refine", "") if overwrite else TABLE[existing][resume == "any"]
    assert d.action is Action(action)
    assert d.reason.endswith(reason) if action == "fail" else d.reason == reason
    if action == "fail":
        assert d.reason.startswith(f"{output}: ")


def _request(inputs, out, **output):
    preset = load_preset("vc2").with_overrides([parse_override("models.t2i=/no/such/model")])
    return Request(tuple(map(str, inputs)), RunOptions(preset, OutputPolicy(**output)), out)


def test_a_plan_holds_each_video_once_with_its_decision_and_records(tmp_path, outputs):
    src = tmp_path / "in"
    for name in ("a-0.mp4", "b-0.mp4", "c-0.mp4"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(b"not decoded by the plan")
    out = tmp_path / "out"
    plan = make_plan(_request([src], out))
    (out).mkdir()
    (out / "b-0.mp4").write_bytes(b"earlier")
    _mp4(out / "c-0.mp4", TAG_PREFIX + plan.settings)
    plan = make_plan(_request([src], out))
    assert [j.output.name for j in plan.jobs] == ["a-0.mp4", "b-0.mp4", "c-0.mp4"]
    assert [d.action for d in plan.decisions] == [Action.REFINE, Action.SKIP, Action.SKIP]
    assert [j.output.name for j in plan.todo] == ["a-0.mp4"]
    assert [(r["output"], r["status"], r["reason"]) for r in (c.as_dict() for c in plan.closed())] == [
        (str(out / "b-0.mp4"), "skipped", UNTAGGED_SKIP), (str(out / "c-0.mp4"), "skipped", SAME_SKIP)]
    # another crf is another fingerprint: c is now made with other settings and fails, with both fingerprints
    other = make_plan(_request([src], out, crf=30))
    assert other.settings != plan.settings
    (rec,) = [r for r in (c.as_dict() for c in other.closed()) if r["status"] == "failed"]
    assert rec["output_settings"] == plan.settings and rec["settings"] == other.settings
    assert make_plan(_request([src], out, crf=30, overwrite=True)).todo == other.jobs


def test_grids_come_from_the_models_own_scheduler_config(tmp_path):
    src = tmp_path / "a-0.mp4"
    src.write_bytes(b"x")
    sd15 = make_plan(_request([src], tmp_path / "out"))
    model = tmp_path / "model"
    (model / "scheduler").mkdir(parents=True)
    config = json.loads((SD15_CONFIG / "scheduler" / "scheduler_config.json").read_text())
    (model / "scheduler" / "scheduler_config.json").write_text(json.dumps({**config, "num_train_timesteps": 500}))
    preset = load_preset("vc2").with_overrides([parse_override(f"models.t2i={model}")])
    own = make_plan(Request((str(src),), RunOptions(preset), tmp_path / "out"))
    assert max(own.grids["t2i"].timesteps) < 500 <= max(sd15.grids["t2i"].timesteps)
    assert len(own.stages) == len(sd15.stages)


def test_no_video_is_one_error_unless_a_shard_holds_none(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvsError, match="no video files found in"):
        make_plan(_request([tmp_path / "empty"], tmp_path / "out"))
    req = _request([tmp_path / "empty"], tmp_path / "out")
    assert make_plan(replace(req, shard=(1, 2))).jobs == []


def test_the_plan_judges_an_output_by_the_prompt_the_worker_will_use_the_prompts_table_first(tmp_path):
    """--prompts wins over the file name: an output made with the table's prompt is the same video (skipped),
    and one made with the name's prompt has another prompt (failed), as the worker would judge them."""
    from evs_cli.batch.options import Prompts
    from evs_cli.batch.planning.plan import prompt_for

    src = tmp_path / "in" / "a red circle-0.mp4"
    src.parent.mkdir()
    src.write_bytes(b"not decoded by the plan")
    out = tmp_path / "out"
    table = {"a red circle-0.mp4": "a red circle on the beach at dusk"}
    request = _request([src], out)
    request = replace(request, options=replace(request.options, prompts=Prompts(table=table)))
    job = make_plan(request).jobs[0]
    assert prompt_for(job, request.options.prompts) == "a red circle on the beach at dusk"
    assert prompt_for(job, Prompts()) == "a red circle"  # the file name, without the table
    settings = make_plan(request).settings
    _mp4(job.output, Made(settings, prompt_key("a red circle on the beach at dusk"), input_id(src)).tag())
    assert [d.action for d in make_plan(request).decisions] == [Action.SKIP]
    _mp4(job.output, Made(settings, prompt_key("a red circle"), input_id(src)).tag())
    (decision,) = make_plan(request).decisions
    assert decision.action is Action.FAIL and "made with another prompt" in decision.reason


def test_other_paths_to_a_file_are_aliases_of_its_job_in_its_shard_and_another_prompt_is_a_video_of_its_own(
        tmp_path):
    from evs_cli.batch.planning.outputs import in_shard

    tree = tmp_path / "vb"
    for i in range(6):
        (tree / "overall").mkdir(parents=True, exist_ok=True)
        (tree / "overall" / f"a circle-{i}.mp4").write_bytes(b"not decoded by the plan %d" % i)
        (tree / "subject").mkdir(exist_ok=True)
        os.symlink(f"../overall/a circle-{i}.mp4", tree / "subject" / f"a circle-{i}.mp4")
    os.symlink("../overall/a circle-0.mp4", tree / "subject" / "a square-0.mp4")  # another name: another prompt
    out = tmp_path / "out"
    named = tree / "overall" / "a circle-1.mp4"
    plan = make_plan(_request([tree, named, named], out))  # named twice alike: said once; by another path: a link
    assert [j.rel.as_posix() for j in plan.jobs] == [f"overall/a circle-{i}.mp4" for i in range(6)] + [
        "subject/a square-0.mp4"]
    assert sorted((a.rel.as_posix(), j.rel.as_posix()) for a, j in plan.aliases) == sorted(
        [(f"subject/a circle-{i}.mp4", f"overall/a circle-{i}.mp4") for i in range(6)]
        + [("a circle-1.mp4", "overall/a circle-1.mp4")])
    assert all(a.output == out / a.rel for a, _ in plan.aliases)
    assert plan.notes == [f"{named} is the same file as {named}: refined once",
                          f"{tree / 'subject' / 'a square-0.mp4'} is the same file as "
                          f"{tree / 'overall' / 'a circle-0.mp4'} with another prompt: refined for each"]
    for k in (0, 1):
        shard = make_plan(replace(_request([tree, named, named], out), shard=(k, 2)))
        assert shard.jobs == [j for j in plan.jobs if in_shard(j.rel, (k, 2))]
        assert shard.aliases == [(a, j) for a, j in plan.aliases if in_shard(j.rel, (k, 2))]  # the video's shard


def test_a_video_stuck_in_an_earlier_run_fails_at_once_unless_overwritten_or_another_timeout(tmp_path):
    from evs_cli.batch.planning.timeouts import mark_timed_out

    src = tmp_path / "in" / "a-0.mp4"
    src.parent.mkdir()
    src.write_bytes(b"not decoded by the plan")
    out = tmp_path / "out"
    plan = make_plan(_request([src], out))
    mark_timed_out(plan.jobs[0].output, src, plan.settings, plan.options.preset.video_timeout)
    (decision,) = make_plan(_request([src], out)).decisions
    assert decision.action is Action.FAIL and decision.reason.startswith(f"{src}: stuck past its time limit")
    assert make_plan(_request([src], out, overwrite=True)).decisions[0].action is Action.REFINE
    assert make_plan(_request([src], out, crf=30)).decisions[0].action is Action.REFINE  # other settings
    _mp4(plan.jobs[0].output, TAG_PREFIX + plan.settings)  # an output made since: judged as outputs are
    assert make_plan(_request([src], out)).decisions[0].action is Action.SKIP


def test_inputs_are_named_three_at_most_in_messages():
    from evs_cli.batch.planning.plan import named

    assert named(["a"]) == "a" and named(["a", "b", "c"]) == "a, b, c"
    assert named(["a", "b", "c", "d"]) == "a, b, c and 1 more"
    assert named(list("abcdef")) == "a, b, c and 3 more"


def test_a_plan_reads_the_prompts_file_keeps_listed_files_below_base_and_judges_again(tmp_path):
    from evs_cli.batch.planning.settings import fingerprint

    base = tmp_path / "vb"
    src = base / "sub" / "a red circle-0.mp4"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"not decoded by the plan")
    table = tmp_path / "prompts.json"
    table.write_text(json.dumps({"sub/a red circle-0.mp4": "a red circle, from the table"}))
    out = tmp_path / "out"
    request = replace(_request([], out), listed=(str(src),), base=base)
    plan = make_plan(request, table)
    assert plan.options.prompts.table == {"sub/a red circle-0.mp4": "a red circle, from the table"}
    assert [j.rel.as_posix() for j in plan.jobs] == ["sub/a red circle-0.mp4"]  # kept below --base
    assert plan.legacy == fingerprint(plan.options, legacy=True) != plan.settings
    job = plan.jobs[0]
    assert plan.judge(job).action is Action.REFINE
    _mp4(job.output, Made(plan.settings, prompt_key("a red circle, from the table"), input_id(src)).tag())
    assert plan.judge(job).action is Action.SKIP  # judged again now, with the table's prompt
    _mp4(job.output, Made(plan.settings, prompt_key("a red circle"), input_id(src)).tag())
    assert plan.judge(job).action is Action.FAIL  # the file name's prompt is another prompt
    _mp4(job.output, TAG_PREFIX + plan.legacy)  # what evs 0.1 wrote for these settings: still done
    assert [d.action for d in make_plan(request, table).decisions] == [Action.SKIP]
    assert plan.judge(job).action is Action.SKIP


def test_a_failed_decision_records_its_reason_as_the_error():
    job = Job(Path("in/a.mp4"), Path("a.mp4"), Path("out/a.mp4"))
    rec = Decision(Action.FAIL, "out/a.mp4: exists, made with other settings", "ffff").record(job, "0000").as_dict()
    assert rec["status"] == "failed" and rec["error"] == "out/a.mp4: exists, made with other settings"
    assert rec["settings"] == "0000" and rec["output_settings"] == "ffff"


def test_an_earlier_result_reached_through_a_link_in_out_is_no_alias_and_the_next_alias_still_is(tmp_path):
    tree = tmp_path / "vb"
    for name in ("a-0.mp4", "b-0.mp4"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(b"video " + name.encode())
    (tree / "out").mkdir()
    os.symlink("../a-0.mp4", tree / "out" / "a-0.mp4")  # inside --out: an earlier result, never an input
    (tree / "sub").mkdir()
    os.symlink("../b-0.mp4", tree / "sub" / "b-0.mp4")
    request = _request([tree], tree / "out")
    plan = make_plan(request)
    assert plan.request is request
    assert [j.rel.as_posix() for j in plan.jobs] == ["a-0.mp4", "b-0.mp4"]
    assert [(a.rel.as_posix(), j.rel.as_posix()) for a, j in plan.aliases] == [("sub/b-0.mp4", "b-0.mp4")]
