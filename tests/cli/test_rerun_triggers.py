"""What makes a rerun redo a video, through `evs` (docs/batch.md, "What a rerun redoes"): its own prompt, not the
whole --prompts table; its input file's content; the settings. A folder that grows, or a prompts file that
grows, costs nothing for the videos already done."""

import json

from helpers import evs, leftovers, make_clip


def _records(log):
    return {json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line) for line in log.read_text().splitlines()}


def test_a_growing_prompts_file_an_edited_sidecar_and_a_replaced_input(tmp_path, models):
    folder, out = tmp_path / "in", tmp_path / "out"
    a, b, c = (make_clip(folder / f"{n}.mp4", seed=i) for i, n in enumerate("abc"))
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"a.mp4": "a red circle", "b.mp4": "a red disc"}))
    (folder / "c.mp4.txt").write_text("a red ball")
    args = ["refine", folder, *models, "--out", out, "--prompts", prompts]
    r = evs(*args)
    assert r.returncode == 0, r.stderr

    prompts.write_text(json.dumps({"a.mp4": "a red circle", "b.mp4": "a red disc", "z.mp4": "unrelated"}))
    log = tmp_path / "grown.jsonl"
    r = evs(*args, "--log", log)
    assert r.returncode == 0, r.stderr
    assert {n: x["status"] for n, x in _records(log).items()} == {"a.mp4": "skipped", "b.mp4": "skipped",
                                                                  "c.mp4": "skipped"}
    assert "loading" not in r.stderr  # nothing to do: no model loaded

    (folder / "c.mp4.txt").write_text("a blue ball")  # edited prompt
    make_clip(b, seed=7)  # replaced input, under the same name
    before = (out / "b.mp4").read_bytes()
    log = tmp_path / "changed.jsonl"
    r = evs(*args, "--log", log)
    assert r.returncode == 1, r.stderr
    recs = _records(log)
    assert recs["a.mp4"]["status"] == "skipped" and recs["b.mp4"]["status"] == "ok"
    assert recs["c.mp4"]["status"] == "failed" and "made with another prompt" in recs["c.mp4"]["error"]
    assert f"evs: error: {out / 'c.mp4'}: exists, made with another prompt" in r.stderr
    assert (out / "b.mp4").read_bytes() != before and leftovers(tmp_path) == []
