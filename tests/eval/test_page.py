"""eval/page.py: which videos share a row, their links, prompts and measures, and a page no data can break."""

import json
import re
from pathlib import Path

import pytest

from evs_cli.errors import EvsError
from evs_cli.eval.page import PageRow, add_prompts, add_scores, load_scores, match_versions, render


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def page_data(html: str) -> dict:
    text = re.search(r'<script type="application/json" id="evs-data">(.*?)</script>', html, re.S)[1]
    return json.loads(text)


def test_folders_are_matched_by_path_below_them_without_suffix(tmp_path):
    a = [touch(tmp_path / "in" / n) for n in ("x.mp4", "sub/y.avi", "only-in.mp4")]
    b = [touch(tmp_path / "out" / n) for n in ("x.mp4", "sub/y.mp4", "only-out.mp4")]
    rows = match_versions([tmp_path / "in", tmp_path / "out"])
    assert [r.name for r in rows] == ["only-in", "only-out", "sub/y", "x"]
    assert [r.videos for r in rows] == [[a[2], None], [None, b[2]], [a[1], b[1]], [a[0], b[0]]]


def test_single_files_make_one_row_named_by_the_first(tmp_path):
    a, b = touch(tmp_path / "a.mp4"), touch(tmp_path / "d" / "b.mp4")
    rows = match_versions([a, b])
    assert [(r.name, r.videos) for r in rows] == [("a", [a, b])]


def test_a_version_without_videos_is_named(tmp_path):
    touch(tmp_path / "in" / "x.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvsError, match=r"empty: no video files"):
        match_versions([tmp_path / "in", tmp_path / "empty"])


def test_the_first_of_two_suffixes_stands_for_the_name(tmp_path):
    touch(tmp_path / "in" / "x.avi")
    touch(tmp_path / "in" / "x.mp4")
    rows = match_versions([tmp_path / "in", tmp_path / "in"])
    assert len(rows) == 1 and rows[0].videos[0] == rows[0].videos[1]


def test_prompts_as_refine_finds_them_and_none_where_there_is_none(tmp_path):
    v = touch(tmp_path / "in" / "a red circle-3.mp4")
    s = touch(tmp_path / "in" / "clip.mp4")
    (tmp_path / "in" / "clip.mp4.txt").write_text("from the sidecar\n")
    n = touch(tmp_path / "in" / "noprompt.mp4")
    rows = [PageRow("a red circle-3", [None, v]), PageRow("clip", [s]), PageRow("noprompt", [n])]
    add_prompts(rows)
    assert [r.prompt for r in rows] == ["a red circle", "from the sidecar", ""]
    add_prompts(rows, {"noprompt.mp4": "from the table"})
    assert rows[2].prompt == "from the table"


def eval_json(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps({"videos": rows, "groups": []}))
    return path


def test_scores_are_found_by_path_from_here_or_from_the_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = touch(tmp_path / "in" / "x.mp4"), touch(tmp_path / "out" / "x.mp4")
    here = eval_json(tmp_path / "s1.json", [{"video": "in/x.mp4", "flicker": 0.5, "psnr": None, "group": "in"}])
    (tmp_path / "evals").mkdir()
    there = eval_json(tmp_path / "evals" / "s2.json", [{"video": "../out/x.mp4", "flicker": 0.25, "sharpness": True},
                                                     {"video": "gone.mp4", "flicker": 1.0}])
    scores = load_scores([here, there])
    assert scores == {a.resolve(): {"flicker": 0.5}, b.resolve(): {"flicker": 0.25}}
    rows = [PageRow("x", [a, b, None])]
    assert add_scores(rows, scores) == 2
    assert rows[0].scores == [{"flicker": 0.5}, {"flicker": 0.25}, None]


@pytest.mark.parametrize("content, message", [
    ("{", r"bad.json: not JSON \(line 1"),
    ("[1, 2]", r"bad.json: not a file written by evs eval --json"),
    ('{"videos": [{"flicker": 1}]}', r"bad.json: not a file written by evs eval --json"),
])
def test_a_scores_file_evs_did_not_write_is_named(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(EvsError, match=message):
        load_scores([tmp_path / "bad.json"])


def test_links_are_relative_to_the_page_and_quoted(tmp_path):
    v = touch(tmp_path / "videos" / "a #1?.mp4")
    html = render([PageRow("a #1?", [v, None])], ["in", "out"], tmp_path / "pages" / "p.html", "t")
    assert page_data(html)["rows"][0]["videos"] == ["../videos/a%20%231%3F.mp4", None]


def test_no_name_prompt_or_title_can_end_the_script_or_the_title(tmp_path):
    v = touch(tmp_path / "x.mp4")
    evil = '</script><script>alert(1)</script> & __TITLE__ __DATA__'
    row = PageRow(evil, [v], prompt=evil, scores=[{"flicker": 0.1}])
    html = render([row], [evil], tmp_path / "p.html", title="<b>" + evil)
    assert html.count("</script>") == 2  # the data's and the page's own
    data = page_data(html)
    assert data["rows"][0]["name"] == evil and data["rows"][0]["prompt"] == evil and data["labels"] == [evil]
    assert "<title>&lt;b&gt;&lt;/script&gt;" in html


def test_the_page_lists_only_measures_some_video_has_and_which_way_is_better(tmp_path):
    v = touch(tmp_path / "x.mp4")
    rows = [PageRow("x", [v, v], scores=[{"sharpness": 2.0, "flicker": 0.1}, None])]
    data = page_data(render(rows, ["a", "b"], tmp_path / "p.html", "t"))
    assert data["measures"] == ["flicker", "sharpness"]
    assert data["lower_is_better"] == ["flicker"]
    assert data["rows"][0]["scores"] == [{"sharpness": 2.0, "flicker": 0.1}, None]
    assert page_data(render([PageRow("x", [v])], ["a"], tmp_path / "p.html", "t"))["rows"][0]["scores"] == [None]


def test_the_page_loads_nothing_from_elsewhere(tmp_path):
    html = render([PageRow("x", [touch(tmp_path / "x.mp4")])], ["a"], tmp_path / "p.html", "t")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert "<script src" not in html and "<link" not in html and "@import" not in html
