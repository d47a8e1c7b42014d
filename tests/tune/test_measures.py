"""What a tune measures (tune/measures.py): against a reference its sharpness gap, without one the detail lost
against the input (a result sharper than its input loses none); extra scorers joined in; only the measures every
row has are compared, in the table's order. Small frames, no weights."""

import numpy as np
import pytest

from evs_cli.tune.measures import MEASURES, gap_target, score, used


def _frames(seed, blur=False):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 256, (4, 32, 32, 3)).astype(np.float32)
    if blur:  # a 3x3 box blur: the same picture, softer
        f = sum(np.roll(np.roll(f, dy, 1), dx, 2) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    return f.astype(np.uint8)


def test_without_a_reference_a_softer_result_loses_detail_and_a_sharper_one_loses_none():
    sharp, soft = _frames(1), _frames(1, blur=True)
    from_soft, from_sharp = gap_target(soft, None), gap_target(sharp, None)
    blurred = score(soft, from_sharp, None)
    assert "detail_loss" in blurred and "sharpness_gap" not in blurred and "psnr" not in blurred
    assert blurred["detail_loss"] > 0.1
    assert score(sharp, from_soft, None)["detail_loss"] == 0.0


def test_against_a_reference_the_gap_to_its_sharpness_and_the_extra_scorers_are_measured():
    ref, soft = _frames(2), _frames(2, blur=True)
    row = score(soft, gap_target(soft, ref), ref, scorers={"dover": lambda frames: 0.25})
    assert {"psnr", "ssim", "sharpness_gap", "warp_error", "flicker"} <= set(row) and "detail_loss" not in row
    assert row["dover"] == 0.25 and row["sharpness_gap"] > 0
    assert score(ref, gap_target(ref, ref), ref)["sharpness_gap"] == pytest.approx(0.0, abs=1e-9)


def test_only_the_measures_every_row_has_are_compared_in_the_tables_order():
    rows = [{"psnr": 1, "warp_error": 2, "dover": 3}, {"warp_error": 1, "psnr": 2}]
    assert used(rows) == ["warp_error", "psnr"] and used([]) == []
    assert list(MEASURES)[:2] == ["warp_error", "flicker"]
