"""Temporal windows (engine/windows.py): where they start, how their outputs blend over each overlap, and that a
long video is covered without seams. Values, not shapes; no model."""

import pytest
import torch

from evs_cli.engine.windows import blend, blend_weights, plan_windows


@pytest.mark.parametrize("frames,starts", [(16, [0]), (17, [0, 1]), (28, [0, 12]), (40, [0, 12, 24]),
                                           (64, [0, 12, 24, 36, 48])])
def test_window_starts_step_by_the_window_less_the_overlap(frames, starts):
    assert plan_windows(frames, 16, 4) == [(s, min(s + 16, frames)) for s in starts]


@pytest.mark.parametrize("frames", [28, 40, 64])
def test_blend_weights_ramp_linearly_across_each_four_frame_overlap(frames):
    windows = plan_windows(frames, 16, 4)
    weights = blend_weights(windows, frames)
    table = torch.zeros(len(windows), frames)
    for k, ((s, e), w) in enumerate(zip(windows, weights)):
        table[k, s:e] = w
    expected = torch.zeros_like(table)
    for k, (s, e) in enumerate(windows):
        expected[k, s:e] = 1.0
    for k in range(len(windows) - 1):  # frames shared by windows k and k+1: 0.8 0.6 0.4 0.2 / 0.2 0.4 0.6 0.8
        shared = range(windows[k + 1][0], windows[k][1])
        assert len(shared) == 4
        for j, f in enumerate(shared):
            expected[k, f], expected[k + 1, f] = 0.8 - 0.2 * j, 0.2 + 0.2 * j
    torch.testing.assert_close(table, expected, rtol=0, atol=1e-6)


def test_blend_weights_of_two_windows_sharing_fifteen_frames():
    """17 frames: windows 0-15 and 1-16; frame f in 1..15 takes (16 - f)/16 of the first, f/16 of the second."""
    w0, w1 = blend_weights(plan_windows(17, 16, 4), 17)
    f = torch.arange(1, 16, dtype=torch.float32)
    torch.testing.assert_close(w0, torch.cat([torch.ones(1), (16 - f) / 16]), rtol=0, atol=1e-6)
    torch.testing.assert_close(w1, torch.cat([f / 16, torch.ones(1)]), rtol=0, atol=1e-6)


def test_blend_is_the_weighted_sum_of_window_outputs():
    windows = plan_windows(28, 16, 4)
    outs = [torch.full((16, 2), 10.0), torch.full((16, 2), 20.0)]
    got = blend(outs, windows, 28)[:, 0]
    expected = torch.tensor([10.0] * 12 + [12.0, 14.0, 16.0, 18.0] + [20.0] * 12)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)




def test_windows_cover_and_blend_without_seams():
    wins = plan_windows(40, 16, 4)
    assert wins[0] == (0, 16) and wins[-1] == (24, 40)
    covered = torch.zeros(40)
    for s, e in wins:
        covered[s:e] += 1
    assert (covered >= 1).all()
    weights = blend_weights(wins, 40)
    total = torch.zeros(40)
    for (s, e), w in zip(wins, weights):
        total[s:e] += w
    torch.testing.assert_close(total, torch.ones(40))
    # windows that each output a different constant: the blend moves between them in small steps
    outs = [torch.full((e - s, 1), float(10 * i)) for i, (s, e) in enumerate(wins)]
    blended = blend(outs, wins, 40)[:, 0]
    jumps = (blended[1:] - blended[:-1]).abs()
    assert jumps.max() <= 10 / 2 + 1e-5  # a hard switch would jump by 10 at a border
    assert (blended[1:] >= blended[:-1] - 1e-6).all()
