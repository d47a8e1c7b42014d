"""The families of defects held-out toy clips carry: reproducible, and each the kind it says it is."""

import numpy as np
import pytest

from evs_cli.eval.metrics import consistency, psnr
from evs_cli.toy.data import DEGRADATIONS, degrade, render, spec_for

SEEDS = (100, 101, 102)


@pytest.fixture(scope="module")
def clean():
    return {s: render(spec_for(s)) for s in SEEDS}


@pytest.mark.parametrize("family", sorted(DEGRADATIONS))
def test_each_family_is_a_pure_function_of_the_seed_and_damages_the_clip(clean, family):
    c = clean[SEEDS[0]]
    a, b = degrade(c, SEEDS[0], family), degrade(c, SEEDS[0], family)
    assert a.dtype == np.uint8 and a.shape == c.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a, degrade(c, SEEDS[1], family))  # another seed, other defects
    assert 12 < psnr(a, c) < 30  # visibly damaged, still the same picture


def test_shimmer_is_mostly_local_and_flicker_mostly_global(clean):
    """Global flicker is what noising at low levels cannot remove; the main family (shimmer) is mostly
    local inconsistency, which a video model can."""
    def share(family):
        rows = [consistency(degrade(c, s, family)) for s, c in clean.items()]
        return np.mean([r["flicker"] for r in rows]) / np.mean([r["warp_error"] for r in rows])

    assert share("shimmer") < 0.4
    assert share("flicker") > 0.6


def test_blocky_frames_break_on_the_jpeg_grid():
    """On smooth ramps (no texture to hide in), the blocky family's steps between neighbouring columns are
    several times larger across JPEG's 8-pixel block edges than inside the blocks."""
    yy, xx = np.mgrid[0:64, 0:64]
    ramps = np.stack([np.stack([40 + 2 * xx + t, 60 + 1.5 * yy, 100 + xx + yy], -1) for t in range(16)])
    d = degrade(ramps.clip(0, 255).astype(np.uint8), SEEDS[0], "blocky").astype(float)
    step = np.abs(np.diff(d, axis=2)).mean(axis=(0, 1, 3))  # step[k]: between columns k and k + 1
    assert step[7::8].mean() > 3 * np.delete(step, np.s_[7::8]).mean()  # measured 6.4x
