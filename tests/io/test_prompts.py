"""Where a video's prompt comes from (--prompt, --prompts, a sidecar, VBench's file names) and how each
prompts file format is read."""

import json
import os
from pathlib import Path

import pytest

from evs_cli.errors import EvsError
from evs_cli.io.prompts import load_prompt_table, resolve_prompt


def test_prompt_tables(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"a.mp4": "one", "b": "two"}))
    (tmp_path / "vb.json").write_text(json.dumps([{"prompt_en": "a cat dozing", "dimension": ["x"]}]))
    (tmp_path / "p.tsv").write_text("c.mp4\tthree\n")
    t = load_prompt_table(tmp_path / "p.json")
    assert resolve_prompt(Path("/x/a.mp4"), Path("a.mp4"), None, t) == ("one", "--prompts")
    assert resolve_prompt(Path("/x/b.mp4"), Path("b.mp4"), None, t)[0] == "two"
    vb = load_prompt_table(tmp_path / "vb.json")
    assert resolve_prompt(Path("/x/a cat dozing-3.mp4"), Path("a cat dozing-3.mp4"), None, vb) == ("a cat dozing", "--prompts")
    assert load_prompt_table(tmp_path / "p.tsv") == {"c.mp4": "three"}
    assert resolve_prompt(Path("/x/a.mp4"), Path("a.mp4"), "given", t) == ("given", "--prompt")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(EvsError, match=r"bad\.json: not valid JSON"):
        load_prompt_table(tmp_path / "bad.json")


def test_a_prompt_with_bytes_that_are_not_utf8_is_text_a_tokenizer_takes_and_says_so():
    name = Path(os.fsdecode(b"caf\xe9 scene-0.mp4"))  # how Python reads such a name: a lone surrogate
    assert resolve_prompt(name, name) == ("caf\ufffd scene", "file name (bytes that are not UTF-8 replaced by U+FFFD)")
    assert resolve_prompt(name, name, os.fsdecode(b"\xff dog")) == (
        "\ufffd dog", "--prompt (bytes that are not UTF-8 replaced by U+FFFD)")
    assert resolve_prompt(name, name, None, {"caf\udce9 scene": "x\ud800y"})[0] == "x\ufffdy"  # any lone surrogate
    assert resolve_prompt(Path("caf\u00e9-0.mp4"), Path("caf\u00e9-0.mp4")) == ("caf\u00e9", "file name")  # UTF-8 stays


def _table(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return load_prompt_table(tmp_path / name)


def test_a_json_object_maps_names_to_prompts_and_vbenchs_list_maps_each_prompt_to_itself(tmp_path):
    assert _table(tmp_path, "o.json", json.dumps({"a.mp4": "one", "7": 8})) == {"a.mp4": "one", "7": "8"}
    vb = [{"prompt_en": "a cat", "prompt": "not this"}, {"prompt": "a dog"}, "a fox", {"dimension": ["x"]}, 3]
    assert _table(tmp_path, "vb.json", json.dumps(vb)) == {"a cat": "a cat", "a dog": "a dog", "a fox": "a fox"}
    assert _table(tmp_path, "empty-list.json", "[]") == {}


def test_a_json_file_of_another_shape_or_broken_is_one_line_naming_it(tmp_path):
    (tmp_path / "n.json").write_text("3")
    with pytest.raises(EvsError, match=r"^.*n\.json: expected a JSON object of name -> prompt or a VBench prompt list$"):
        load_prompt_table(tmp_path / "n.json")
    (tmp_path / "b.json").write_text('{"a": 1,\n nope}')
    with pytest.raises(EvsError, match=r"b\.json: not valid JSON \(Expecting property name .* at line 2\)$"):
        load_prompt_table(tmp_path / "b.json")


@pytest.mark.parametrize("name", ["e.json", "e.txt", "e.csv"])
def test_an_empty_prompts_file_is_an_error(tmp_path, name):
    (tmp_path / name).write_text(" \n\t\n")
    with pytest.raises(EvsError, match=rf"{name}: the prompts file is empty$"):
        load_prompt_table(tmp_path / name)


def test_a_txt_list_is_one_prompt_a_line_stripped_with_blank_lines_skipped(tmp_path):
    assert _table(tmp_path, "all.TXT", "  a cat dozing \n\n\ta dog\n") == {"a cat dozing": "a cat dozing", "a dog": "a dog"}


def test_a_csv_or_tsv_is_name_and_prompt_with_an_optional_header(tmp_path):
    assert _table(tmp_path, "h.csv", " Name , Prompt \na.mp4, one \n\nb.mp4,\"two, three\"\n") == {
        "a.mp4": "one", "b.mp4": "two, three"}
    for header in ("file,prompt", "video,prompt"):
        assert _table(tmp_path, "h2.csv", f"{header}\na.mp4,one\n") == {"a.mp4": "one"}
    assert _table(tmp_path, "n.csv", "name,a cat\nb.mp4,two\n") == {"name": "a cat", "b.mp4": "two"}  # no header
    assert _table(tmp_path, "t.tsv", "a.mp4\tone, two\n") == {"a.mp4": "one, two"}
    assert _table(tmp_path, "t.list", "a.mp4\tone, two\n") == {"a.mp4": "one, two"}  # a tab in line 1 says TSV
    assert _table(tmp_path, "t.TSV", "\na.mp4\tone, two\n") == {"a.mp4": "one, two"}  # by its suffix alone
    assert _table(tmp_path, "h3.csv", "name,prompt,notes\na.mp4,one,x\n") == {"a.mp4": "one"}  # more columns
    assert _table(tmp_path, "c.list", "a.mp4,one\nb.mp4,two\tthree\n") == {"a.mp4": "one", "b.mp4": "two\tthree"}


def test_a_row_without_a_prompt_is_named_by_its_line_in_the_file(tmp_path):
    (tmp_path / "p.csv").write_text("name,prompt\n\na.mp4,one\nb.mp4\nc.mp4\n")
    with pytest.raises(EvsError, match=r"p\.csv: line 4 needs two columns: name, prompt$"):
        load_prompt_table(tmp_path / "p.csv")


def test_the_prompt_is_looked_up_by_relative_path_then_name_then_stem_then_vbench_prompt(tmp_path):
    video, rel = Path("/x/sub/a cat-2.mp4"), Path("sub/a cat-2.mp4")
    keys = ["sub/a cat-2.mp4", "a cat-2.mp4", "a cat-2", "a cat"]
    for i, key in enumerate(keys):
        table = {k: f"by {k}" for k in keys[i:]}
        assert resolve_prompt(video, rel, None, table) == (f"by {key}", "--prompts")
    assert resolve_prompt(video, rel, None, {"other": "x"}) == ("a cat", "file name")  # not in it: the next source


def test_the_prompt_comes_from_the_first_source_that_has_one(tmp_path):
    video = tmp_path / "a dog-0.mp4"
    rel = Path(video.name)
    table = {"a dog-0.mp4": "from the table"}
    assert resolve_prompt(video, rel, "given", table) == ("given", "--prompt")
    assert resolve_prompt(video, rel, "", table) == ("from the table", "--prompts")
    assert resolve_prompt(video, rel, None, {}) == ("a dog", "file name")
    (tmp_path / "a dog-0.txt").write_text(" the stem's sidecar \n")
    assert resolve_prompt(video, rel, None, {}) == ("the stem's sidecar", "a dog-0.txt")
    (tmp_path / "a dog-0.mp4.txt").write_text("\n  \n")  # empty: the next sidecar
    assert resolve_prompt(video, rel, None, {}) == ("the stem's sidecar", "a dog-0.txt")
    (tmp_path / "a dog-0.mp4.txt").write_text("the full name's sidecar")
    assert resolve_prompt(video, rel, None, None) == ("the full name's sidecar", "a dog-0.mp4.txt")
    assert resolve_prompt(video, rel, None, table) == ("from the table", "--prompts")


def test_a_video_with_no_prompt_anywhere_is_one_line_saying_where_one_can_go(tmp_path):
    (tmp_path / "clip.mp4.txt").mkdir()  # a folder is no sidecar
    with pytest.raises(EvsError, match=r"^.*clip\.mp4: no prompt \(pass --prompt or --prompts FILE, add clip\.mp4\.txt, "
                                       r"or name it <prompt>-<index>\.mp4\)$"):
        resolve_prompt(tmp_path / "clip.mp4", Path("clip.mp4"))
    with pytest.raises(EvsError, match="no prompt"):
        resolve_prompt(tmp_path / "clip-x.mp4", Path("clip-x.mp4"))  # not <prompt>-<index>: the index is a number
    with pytest.raises(EvsError, match="no prompt"):
        resolve_prompt(tmp_path / "-3.mp4", Path("-3.mp4"))  # no prompt before the index


def test_a_prompts_file_that_cannot_be_read_is_one_line_naming_it(tmp_path):
    with pytest.raises(EvsError, match=r"^.*none\.json: cannot read the prompts file \("):
        load_prompt_table(tmp_path / "none.json")


def test_a_sidecar_that_is_not_utf8_is_one_line_naming_it(tmp_path):
    (tmp_path / "v.mp4.txt").write_bytes(b"caf\xe9")
    with pytest.raises(EvsError, match=r"v\.mp4\.txt: the prompt sidecar is not UTF-8 text"):
        resolve_prompt(tmp_path / "v.mp4", Path("v.mp4"))
