"""The settings a tune tries (tune/grid.py): values split from --grid, what is refused and why, the product
without invalid or repeated schedules, and the default grid around the base."""


import pytest

from evs_cli.engine.preset import load_preset
from evs_cli.errors import EvsError
from evs_cli.tune.grid import default_axes, parse_grid, settings_of, split_values


def test_values_split_at_commas_outside_brackets():
    assert split_values("1, 2,[up.1,mid],{a: 1, b: 2}") == ["1", "2", "[up.1,mid]", "{a: 1, b: 2}"]


@pytest.mark.parametrize("text,message", [
    ("tV", "expects KEY=V1,V2"), ("tV=", "expects KEY=V1,V2"), ("tV=1,,2", "an empty value"),
    ("models.t2i=a,b", "shares its models"), ("runtime.resize=1,2", "shares its models"),
    ("t2i.loras=[a.safetensors]", "shares its models"), ("stages=x", "shares its models")])
def test_a_grid_it_cannot_tune_is_one_line_naming_it(text, message):
    with pytest.raises(EvsError, match=message):
        parse_grid([text])


def test_a_key_gridded_twice_is_refused_whichever_way_it_is_spelt():
    with pytest.raises(EvsError, match="given twice"):
        parse_grid(["tV=1,2", "schedule.tV=3"])


def test_the_grid_is_the_product_without_invalid_or_repeated_schedules():
    base = load_preset("toy")  # tI 6, tT2V 2, tV 1, nV 1
    settings, notes = settings_of(base, parse_grid(["tV=1,2", "nV=1,2", "composition=evs,t2v"]))
    labels = [s.label for s in settings]
    # evs: (1,1) is the base itself, (1,2) is invalid, (2,1), (2,2); t2v: nV does not matter -> tV 1 and 2 once each
    assert labels == ["base", "tV=1 composition=t2v", "tV=2 nV=1 composition=evs", "tV=2 composition=t2v",
                      "tV=2 nV=2 composition=evs"]
    assert any("1 combination left out: nV must be" in n for n in notes)
    assert any("3 combinations gave a schedule already in the grid" in n for n in notes)  # base, t2v twice
    assert settings[0].is_base and settings[4].preset.data["schedule"]["nV"] == 2


def test_a_grid_of_nothing_new_is_an_error():
    with pytest.raises(EvsError, match="no setting other than the base"):
        settings_of(load_preset("toy"), parse_grid(["tV=1"]))


@pytest.mark.parametrize("grid,named,why", [
    (["tV=1,2,99"], "tV=99", "tV must be an integer in 1..8, got 99"),
    (["tV=2,abc"], "tV=abc", "got 'abc'"),
    (["t2v.family=v2,v9"], "t2v.family=v9", "got 'v9'"),
    (["tV=1,2", "nV=1,9"], "nV=9", "nV must be an integer in 1..2, got 9")])  # said for the widest tV
def test_a_value_no_combination_can_use_is_an_error_naming_it(grid, named, why):
    with pytest.raises(EvsError) as e:
        settings_of(load_preset("toy"), parse_grid(grid))
    assert str(e.value).startswith(f"--grid {named}: no combination can use this value (") and why in str(e.value)


def test_a_value_only_some_combinations_reject_is_left_out_with_the_presets_own_message():
    settings, notes = settings_of(load_preset("toy"), parse_grid(["tV=1,2", "nV=1,2"]))
    assert [s.label for s in settings] == ["base", "tV=2 nV=1", "tV=2 nV=2"]
    assert notes[0] == "1 combination left out: nV must be an integer in 1..1, got 2"


def test_the_default_grid_is_one_step_around_the_base_block():
    assert default_axes(load_preset("vc2")) == [("tT2V", ["4", "8", "12"]), ("tV", ["2", "3", "4"]),
                                                ("nV", ["1", "2", "3"])]  # vc2: tI 20, tT2V 8, tV 3, nV 2
    toy = dict(default_axes(load_preset("toy")))  # tI 6, tT2V 2, tV 1, nV 1: clipped at the grid's ends
    assert toy == {"tT2V": ["1", "2", "3"], "tV": ["1", "2"], "nV": ["1", "2"]}
