"""The schedule as data (engine/stages.py): each composition's stage list in the paper's notation, Algorithm 1's
three stages with the T2I call at tT2V made twice, the call counts, and a value out of range named before any
model loads. No model."""

import pytest

from evs_cli.engine.stages import Injection, ScheduleParams, Stage, build_stages, count_calls
from evs_cli.errors import ConfigError


def test_evs_is_t2i_down_to_tT2V_then_the_T2V_block_then_t2i_again_from_tT2V():
    stages = build_stages(ScheduleParams(tI=20, tT2V=10, tV=3, nV=2))
    assert stages == [Stage("t2i", 20, 11), Stage("t2v", 3, 2), Stage("t2i", 10, 10)]
    assert count_calls(stages) == {"t2i": 21, "t2v": 2, "t2i_inversion": 0, "t2v_inversion": 0}


@pytest.mark.parametrize("composition,expected", [
    ("t2i", [Stage("t2i", 20, 20)]),
    ("t2v", [Stage("t2v", 3, 3)]),
    ("t2i-t2v", [Stage("t2i", 20, 20), Stage("t2v", 3, 3)]),
    ("t2v-t2i", [Stage("t2v", 3, 3), Stage("t2i", 20, 20)]),
])
def test_the_baseline_compositions_run_each_model_whole_from_its_start(composition, expected):
    assert build_stages(ScheduleParams(composition=composition, tI=20, tV=3)) == expected


def test_an_inverted_block_carries_its_injection_and_counts_its_inversion_calls():
    p = ScheduleParams(tI=20, tT2V=10, tV=3, nV=3, mode="invert", gamma=0.5, layers=("up.1", "mid"))
    block = build_stages(p)[1]
    assert block == Stage("t2v", 3, 3, "invert", Injection(0.5, ("up.1", "mid"), ()))
    assert count_calls([block])["t2v_inversion"] == 4  # tV levels, and one more to record the features
    assert count_calls([Stage("t2v", 3, 3, "invert")])["t2v_inversion"] == 3
    assert "injection" not in Stage("t2i", 5, 5).describe() and block.describe()["injection"]["gamma"] == 0.5


def test_a_written_stage_list_wins_over_the_composition():
    own = (Stage("t2v", 4, 2), Stage("t2i", 6, 6))
    assert build_stages(ScheduleParams(composition="t2i", stages=own)) == list(own)


@pytest.mark.parametrize("params,message", [
    (ScheduleParams(composition="evs2"), "composition must be one of evs, t2i, t2v, t2i-t2v, t2v-t2i, got 'evs2'"),
    (ScheduleParams(tI=51), "tI must be an integer in 1..50, got 51"),
    (ScheduleParams(tI=10, tT2V=11), "tT2V must be an integer in 1..10, got 11"),
    (ScheduleParams(tV=3, nV=4), "nV must be an integer in 1..3, got 4"),
    (ScheduleParams(tV=9), "tV must be an integer in 1..8, got 9"),
    (ScheduleParams(mode="inverse"), "mode must be one of sdedit, invert, got 'inverse'"),
    (ScheduleParams(mode="invert", gamma=1.5), "gamma must be a number in 0.0..1.0, got 1.5"),
    (ScheduleParams(stages=(Stage("t2v", 9, 1),)), "stages[0].start must be an integer in 1..8, got 9"),
    (ScheduleParams(stages=(Stage("t2i", 5, 6),)), "stages[0].calls must be an integer in 1..5, got 6"),
    (ScheduleParams(stages=(Stage("t2i", 5, 5, "sdedit", Injection()),)),
     "stages[0].injection needs mode 'invert' (features come from the inversion)"),
])
def test_a_value_out_of_range_is_named_with_its_range(params, message):
    with pytest.raises(ConfigError) as e:
        build_stages(params)
    assert str(e.value) == message


def test_keys_a_composition_does_not_use_are_not_checked():
    assert build_stages(ScheduleParams(composition="t2i", tI=5, tV=99, nV=99)) == [Stage("t2i", 5, 5)]
    assert build_stages(ScheduleParams(composition="t2v", tV=2, tI=99, tT2V=99)) == [Stage("t2v", 2, 2)]
