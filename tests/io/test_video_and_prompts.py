import json
from pathlib import Path

import numpy as np
import pytest
import torch

from evs_cli.errors import EvsError
from evs_cli.io import video
from evs_cli.io.prompts import load_prompt_table, resolve_prompt
from helpers import make_clip


def test_decord_and_pyav_decode_the_same_frames(tmp_path):
    pytest.importorskip("decord")
    src = make_clip(tmp_path / "c.mp4", frames=10)
    a = video.read_video(src)
    b = video._read_av(src).frames
    assert a.frames.shape == (10, 64, 64, 3) and torch.equal(a.frames, b)


def test_gif_is_read(tmp_path):
    from PIL import Image

    imgs = [Image.fromarray(np.full((64, 96, 3), i * 20, np.uint8)) for i in range(5)]
    imgs[0].save(tmp_path / "a.gif", save_all=True, append_images=imgs[1:], duration=100, loop=0)
    v = video.read_video(tmp_path / "a.gif")
    assert v.frames.shape == (5, 64, 96, 3) and abs(float(v.fps) - 10) < 0.5


def test_sizes_round_to_multiples_of_64():
    assert video.target_size(512, 320, 2.0) == (1024, 640)  # VC2 -> the paper's 640x1024
    assert video.target_size(512, 512, 2.0) == (1024, 1024)
    assert video.target_size(100, 30, 1.0) == (128, 64)


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
    import os

    name = Path(os.fsdecode(b"caf\xe9 scene-0.mp4"))  # how Python reads such a name: a lone surrogate
    assert resolve_prompt(name, name) == ("caf\ufffd scene", "file name (bytes that are not UTF-8 replaced by U+FFFD)")
    assert resolve_prompt(name, name, os.fsdecode(b"\xff dog")) == (
        "\ufffd dog", "--prompt (bytes that are not UTF-8 replaced by U+FFFD)")
    assert resolve_prompt(name, name, None, {"caf\udce9 scene": "x\ud800y"})[0] == "x\ufffdy"  # any lone surrogate
    assert resolve_prompt(Path("caf\u00e9-0.mp4"), Path("caf\u00e9-0.mp4")) == ("caf\u00e9", "file name")  # UTF-8 stays
