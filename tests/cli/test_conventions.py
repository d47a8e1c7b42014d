"""Habits of a good command-line tool: --version, -h, devices checked before models load, a seed per
video, plural words that agree, a summary that repeats the failures and says where the results are."""

import json
import re
from pathlib import Path

import pytest

from evs_cli import __version__
from evs_cli.batch.options import video_seed
from helpers import evs, make_clip


def test_version_and_short_help():
    r = evs("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"evs {__version__}"
    from importlib.metadata import version

    assert version("evs_cli") == __version__  # pyproject reads the same one place
    r = evs("refine", "-h")
    assert r.returncode == 0 and "--seed-per-video" in r.stdout and "--max-pixels" in r.stdout


def test_presets_alone_lists_them_and_the_help_names_every_exit_code():
    r = evs("presets", env_extra={"COLUMNS": "200"})
    listed = [line.split("│")[1].strip() for line in r.stdout.splitlines() if line.startswith("│")]
    assert r.returncode == 0 and "vc2" in listed and "toy-fast" in listed and listed == sorted(listed)
    r = evs("--help", env_extra={"COLUMNS": "200"})
    words = " ".join(r.stdout.split())
    assert all(code in words for code in ("0 all refined", "1 some video failed", "2 usage", "75 another live run",
                                          "130 interrupted"))


@pytest.mark.parametrize("devices,message", [("gpu0", "'gpu0' is not a device"),
                                             ("cuda:0", "CUDA is not available on this machine"),
                                             ("cpu,cuda:7", "cuda:7 asked for")])
def test_bad_devices_are_one_line_setup_errors_before_any_model_loads(tmp_path, devices, message):
    import torch

    if torch.cuda.is_available() and devices != "gpu0":
        pytest.skip("this machine has CUDA")
    src = make_clip(tmp_path / "a-0.mp4", frames=2)
    # Models that do not exist: a load would fail differently, so the device error must come first.
    r = evs("refine", src, "--t2i", tmp_path / "nope", "--t2v", tmp_path / "nope", "--devices", devices,
            "--out", tmp_path / "out")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("evs: error: --devices") and message in lines[0] and "Traceback" not in r.stderr


def test_each_video_gets_its_own_stable_seed(tmp_path, tiny_paths):
    models = ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"], "--resize", "1",
              "--set", "tI=2", "--set", "tT2V=1"]
    for i in range(2):
        make_clip(tmp_path / "in" / "sub" / f"a dog-{i}.mp4", frames=2, seed=i)
    for mode in ("on", "off"):
        log = tmp_path / f"{mode}.jsonl"
        r = evs("refine", tmp_path / "in", *models, "--seed", 5, "--seed-per-video", mode,
                "--out", tmp_path / mode, "--log", log)
        assert r.returncode == 0, r.stderr
        seeds = {Path(rec["input"]).name: rec["seed"] for rec in map(json.loads, log.read_text().splitlines())}
        if mode == "on":
            assert seeds == {f"a dog-{i}.mp4": video_seed(5, Path("sub") / f"a dog-{i}.mp4") for i in range(2)}
            assert len(set(seeds.values())) == 2
        else:
            assert set(seeds.values()) == {5}
        assert "2 videos in" in r.stderr
    # Stable: a fixed value, not Python's per-process hash(); a summary of one says "1 video".
    assert video_seed(5, Path("sub/a dog-0.mp4")) == video_seed(5, Path("sub") / "a dog-0.mp4")
    assert video_seed(0, Path("x.mp4")) == int.from_bytes(
        __import__("hashlib").sha256(b"0:x.mp4").digest()[:8], "big") >> 1
    r = evs("refine", tmp_path / "in" / "sub" / "a dog-0.mp4", *models, "--out", tmp_path / "one", "--overwrite")
    assert "1 video in" in r.stderr


def test_a_huge_seed_is_one_usage_error(tmp_path):
    src = make_clip(tmp_path / "a-0.mp4", frames=2)
    r = evs("refine", src, "--seed", str(2**70), "--out", tmp_path / "out")
    assert r.returncode == 2 and "--seed" in r.stderr and not (tmp_path / "out").exists()


def test_the_summary_repeats_failures_and_names_outputs_and_log(tmp_path, tiny_paths):
    models = ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"], "--resize", "1",
              "--set", "tI=2", "--set", "tT2V=1"]
    make_clip(tmp_path / "in" / "a dog-0.mp4", frames=2)
    lost = make_clip(tmp_path / "in" / "noprompt.mp4", frames=2)
    log = tmp_path / "log.jsonl"
    r = evs("refine", tmp_path / "in", *models, "--out", tmp_path / "out", "--log", log)
    assert r.returncode == 1
    tail = r.stderr.strip().splitlines()[-2:]
    assert tail[0].startswith(f"failed: {lost}: no prompt")
    assert tail[1] == f"outputs: {(tmp_path / 'out').resolve()}; log: {log}"


def _dry(*args, **kw):
    r = evs("refine", *args, "--dry-run", **kw)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines() if line.startswith("refine\t")]


def test_inputs_from_a_list_stdin_and_globs_keep_relative_paths(tmp_path):
    a = make_clip(tmp_path / "vb" / "sub" / "a dog-0.mp4", frames=2)
    b = make_clip(tmp_path / "vb" / "other" / "a cat-1.mp4", frames=2)
    out = tmp_path / "out"
    rows = _dry(str(tmp_path / "vb" / "**" / "a d*.mp4"), "--out", out)
    assert [r[2] for r in rows] == [str(out / "sub" / "a dog-0.mp4")]  # sub/ kept, as for a folder input
    listing = tmp_path / "list.txt"
    listing.write_text(f"# the videos\n{a}\n\n{b}\n")
    assert [r[1] for r in _dry("--from", listing, "--out", out)] == [str(a), str(b)]
    assert [r[1] for r in _dry("-", "--out", out, input=f"{b}\n")] == [str(b)]
    assert [r[1] for r in _dry("--from", "-", "--out", out, input=f"{a}\n")] == [str(a)]  # stdin as the list
    r = evs("refine", "--from", tmp_path / "none.txt", "--dry-run")
    assert r.returncode == 2 and "none.txt: cannot read the input list" in r.stderr.strip().splitlines()[-1]


def test_vbench_plain_prompt_list_gives_the_full_prompt(tmp_path):
    clip = make_clip(tmp_path / "a dog running on the beach-3.mp4", frames=2)
    plain = tmp_path / "all_dimension.txt"
    plain.write_text("a cat sitting\na dog running on the beach\n")
    (row,) = _dry(clip, "--prompts", plain, "--out", tmp_path / "out")
    assert row[3:] == ["--prompts", "a dog running on the beach"]


@pytest.mark.parametrize("command", [[], ["refine"], ["tune"], ["eval"], ["compare"], ["demo"], ["presets", "show"]])
def test_no_python_types_in_any_help(command):
    r = evs(*command, "--help", env_extra={"COLUMNS": "200"})
    assert r.returncode == 0
    assert not re.search(r"<(bool|str|int|float|Path|list\[\w+\])>", r.stdout), r.stdout
    usage = next(line for line in r.stdout.splitlines() if "Usage:" in line)
    assert "{" not in usage  # VIDEO..., not {VIDEO}...


def test_help_reads_as_words_and_flags_take_no_value(tmp_path):
    r = evs("refine", "--help", env_extra={"COLUMNS": "200"})
    assert r.returncode == 0
    options = "\n".join(line for line in r.stdout[r.stdout.index("Options"):].splitlines()
                         if "Show this message" not in line)  # typer's own --help flag
    assert "<bool>" not in options and "<str>" not in options and "<list[str]>" not in options
    assert "pip install 'evs_cli[ray]'" in " ".join(r.stdout.replace("│", " ").split())  # across a panel's wrap
    src = make_clip(tmp_path / "a dog-0.mp4", frames=2)
    r = evs("refine", src, "--overwrite", "true", "--dry-run")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "evs: error: --overwrite is a flag and takes no value: drop 'true' (leave the flag out for the default)"]


def test_refine_help_groups_its_options_in_panels_and_starts_with_an_offline_example():
    r = evs("refine", "--help", env_extra={"COLUMNS": "200"})
    panels = re.findall(r"╭─ (.+?) ─", r.stdout)
    assert panels == ["Arguments", "Options", "Inputs and outputs", "Preset and models", "Speed and memory",
                      "Batch and resume", "Devices and cluster"]
    inside = {p: r.stdout.split(f"╭─ {p} ")[1].split("╰")[0] for p in panels}
    assert "--out" in inside["Inputs and outputs"] and "--t2v" in inside["Preset and models"]
    assert "--max-memory" in inside["Speed and memory"] and "--resume" in inside["Batch and resume"]
    assert "--ray-address" in inside["Devices and cluster"] and "--help" in inside["Options"]
    first = " ".join(r.stdout.split("Examples:")[1].split())
    assert first.startswith("evs refine my-clips/ --preset toy")


@pytest.mark.parametrize("command", [["refine"], ["tune"], ["eval"], ["compare"], ["demo"], ["presets", "show"]])
def test_help_paragraphs_fill_their_lines_on_an_80_column_terminal(command):
    r = evs(*command, "--help", env_extra={"COLUMNS": "80"})
    text = r.stdout.split("Usage:")[1].split("╭")[0]
    paragraphs = [p.splitlines() for p in re.split(r"\n\s*\n", text)[1:] if p.strip()]
    for lines in paragraphs:  # every line but a paragraph's last reaches near the edge
        assert all(len(line.rstrip()) > 60 for line in lines[:-1]), "\n".join(lines)


@pytest.mark.parametrize("args, message", [
    (["refine", "x.mp4", "--dtype", "fp64"], "evs: error: Invalid value for '--dtype': Value error, 'fp64' is not one "
                                             "of 'auto', 'bf16', 'fp16', 'fp32'."),
    (["eval", "x.mp4", "--flow", "lk"], "evs: error: Invalid value for '--flow': Value error, 'lk' is not one of "
                                        "'dis', 'farneback'."),
    (["tune", "x.mp4", "--flow", "lk"], "evs: error: Invalid value for '--flow': Value error, 'lk' is not one of "
                                        "'dis', 'farneback'."),
])
def test_fixed_choices_are_enums_that_name_every_choice(args, message):
    r = evs(*args)
    assert (r.returncode, r.stderr.strip()) == (2, message)


def test_a_dtype_chosen_on_the_command_line_reaches_the_preset_as_its_plain_name(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--preset", "toy", "--dtype", "fp32", "--dry-run", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    from evs_cli.cli.app import resolve_preset
    from evs_cli.cli.options import DtypeName

    p = resolve_preset("toy", [], None, None, None, DtypeName.BF16, None)
    assert p.data["runtime"]["dtype"] == "bf16" and type(p.data["runtime"]["dtype"]) is str
