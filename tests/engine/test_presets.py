"""Presets and schedule parameters: invalid values fail before any model is loaded, naming the key."""

import pytest

from evs_cli.engine.preset import list_presets, load_preset, parse_override
from evs_cli.engine.stages import Injection, ScheduleParams, Stage, build_stages, count_calls
from evs_cli.errors import ConfigError


@pytest.mark.parametrize("params,match", [
    (dict(tV=3, nV=4), r"nV must be an integer in 1\.\.3, got 4"),
    (dict(tI=10, tT2V=11), r"tT2V must be an integer in 1\.\.10, got 11"),
    (dict(tV=9), r"tV must be an integer in 1\.\.8, got 9"),
    (dict(tI=51), r"tI must be an integer in 1\.\.50, got 51"),
    (dict(mode="invert", gamma=1.5), r"gamma must be a number in 0\.0\.\.1\.0, got 1\.5"),
    (dict(mode="invert", layers=("up.1", "sideways")), r"layers: unknown layer 'sideways'"),
    (dict(mode="warp"), r"mode must be one of sdedit, invert"),
    (dict(composition="t2i+t2v"), r"composition must be one of"),
])
def test_invalid_schedule_names_parameter_and_range(params, match):
    with pytest.raises(ConfigError, match=match):
        build_stages(ScheduleParams(**params))


def test_evs_stages_follow_algorithm_1():
    stages = build_stages(ScheduleParams(tI=20, tT2V=8, tV=3, nV=2))
    assert stages == [Stage("t2i", 20, 13), Stage("t2v", 3, 2), Stage("t2i", 8, 8)]
    assert count_calls(stages) == {"t2i": 21, "t2v": 2, "t2i_inversion": 0, "t2v_inversion": 0}


def test_custom_stage_list_is_validated():
    with pytest.raises(ConfigError, match=r"stages\[1\]\.calls must be an integer in 1\.\.2, got 3"):
        build_stages(ScheduleParams(stages=(Stage("t2i", 5, 5), Stage("t2v", 2, 3))))
    inverted = Stage("t2v", 3, 2, "invert", Injection(0.5, ("up.1",)))
    assert build_stages(ScheduleParams(stages=(inverted,))) == [inverted]
    with pytest.raises(ConfigError, match=r"stages\[0\]\.injection\.layers: unknown layer 'upper'"):
        build_stages(ScheduleParams(stages=(Stage("t2v", 3, 2, "invert", Injection(0.5, ("upper",))),)))


def test_every_shipped_preset_loads():
    assert {"vc2", "ad2", "sfi", "t2i", "t2v", "t2i-t2v", "t2v-t2i"} <= set(list_presets())
    for name in list_presets():
        assert build_stages(load_preset(name).schedule_params())


def test_overrides_bare_schedule_keys_and_dotted_keys():
    p = load_preset("vc2").with_overrides([parse_override("tV=4"), parse_override("t2i.guidance=5")])
    assert p.data["schedule"]["tV"] == 4 and p.t2i.guidance == 5


@pytest.mark.parametrize("text,match", [
    ("tv=4", r"unknown key 'tv'"),
    ("t2i.guidanse=5", r"unknown key 't2i.guidanse'"),
    ("nV=9", r"nV must be an integer in 1\.\.3, got 9"),
    ("runtime.dtype=fp8", r"runtime.dtype must be one of"),
    ("runtime.t2v_overlap=16", r"runtime.t2v_overlap must be in 0\.\.15"),
    ("noequals", r"--set expects key=value"),
    ("tI=20.5", r"tI must be an integer in 1\.\.50, got 20\.5"),
    ("tV=true", r"tV must be an integer in 1\.\.8, got True"),
    ("schedule.stages=5", r"schedule\.stages must be a list of stages, got 5"),
    ("layers=5", r"schedule\.layers must be a list of layer names \(e\.g\. \[up\.1, mid\]\), got 5"),
    ("schedule.stages=[{model: t2i, start: 3.5, calls: 2}]", r"stages\[0\]\.start must be an integer"),
    ("schedule.stages=[{model: t2v, start: 3, calls: 2, mode: invert, injection: {layers: 7}}]",
     r"stages\[0\]\.injection\.layers must be a list of layer names"),
    *[(f"t2i.guidance_interval={v}", r"t2i\.guidance_interval must be \[LOW, HIGH\], timesteps with 0 <= LOW <= HIGH "
       r"<= 999 \(guidance only between them\), or left out, got ") for v in
      ("[200,99]", "[1,2,3]", "5", "[0.5,10]", "[true,10]", "[0,1000]", "[-1,10]", "[a,b]")],
])
def test_bad_overrides_name_the_key(text, match):
    with pytest.raises(ConfigError, match=match):
        load_preset("vc2").with_overrides([parse_override(text)])


def test_layer_names_from_the_command_line_are_comma_separated():
    p = load_preset("sfi").with_overrides([parse_override("layers=up.1, mid")])
    assert p.schedule_params().layers == ("up.1", "mid")


def test_bad_preset_file_names_file_and_key(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("schedule:\n  tI: 20\n  tT2V: 30\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: tT2V must be an integer in 1\.\.20, got 30"):
        load_preset(str(f))
    f.write_text("schedul: {}\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: unknown key 'schedul'"):
        load_preset(str(f))
    with pytest.raises(ConfigError, match=r"unknown preset 'nope'"):
        load_preset("nope")


def test_a_shipped_name_is_never_shadowed_by_a_file_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vc2").write_text("")  # an empty file that happens to carry a preset's name
    assert load_preset("vc2").source == "preset:vc2" and load_preset("vc2").data["schedule"]["tV"] is not None
    with pytest.raises(ConfigError, match=r"vc2: the preset file is empty"):
        load_preset("./vc2")
    (tmp_path / "mine").write_text("schedule: {tV: 4}\n")
    assert load_preset("mine").data["schedule"]["tV"] == 4  # a name that is not shipped is still a file


@pytest.mark.parametrize("text,suggestion", [
    ("tv=4", "did you mean 'tV'?"), ("TT2V=4", "did you mean 'tT2V'?"), ("t2i.guidanse=5", "did you mean 't2i.guidance'?"),
    ("runtime.Resize=1", "did you mean 'runtime.resize'?"), ("shedule.tV=2", "did you mean 'schedule'?")])
def test_a_misspelt_key_gets_the_nearest_one_suggested(text, suggestion):
    with pytest.raises(ConfigError) as e:
        load_preset("vc2").with_overrides([parse_override(text)])
    assert f"({suggestion} known here: " in str(e.value)


def test_a_key_like_none_gets_no_suggestion_and_a_misspelt_preset_gets_the_nearest():
    with pytest.raises(ConfigError) as e:
        load_preset("vc2").with_overrides([parse_override("zzz=1")])
    assert str(e.value).startswith("unknown key 'zzz' (known here: ")
    with pytest.raises(ConfigError, match=r"^unknown preset 'vc3' \(did you mean 'vc2'\? shipped: ad2, "):
        load_preset("vc3")
    with pytest.raises(ConfigError, match=r"^unknown preset 'nothing-like' \(shipped: "):
        load_preset("nothing-like")
