"""Weight-free metrics on synthetic videos with known answers."""

import cv2
import numpy as np
import pytest

from evs_cli.eval.metrics import PSNR_CAP, psnr, sharpness, ssim, temporal, weight_free
from evs_cli.toy.data import render, spec_for


def _textured(frames=8, shift=0.0, seed=0):
    r = np.random.default_rng(seed)
    base = cv2.GaussianBlur(r.integers(0, 255, (80, 80, 3)).astype(np.float32), (0, 0), 1.5)
    out = []
    for t in range(frames):
        m = np.float32([[1, 0, shift * t], [0, 1, 0]])
        out.append(cv2.warpAffine(base, m, (80, 80), borderMode=cv2.BORDER_REFLECT)[8:72, 8:72])
    return np.clip(np.stack(out), 0, 255).astype(np.uint8)


def test_static_video_has_no_warp_error_or_flicker():
    v = np.repeat(_textured(1), 6, axis=0)
    m = weight_free(v)
    assert m["warp_error"] == 0.0 and m["flicker"] == 0.0


def test_smooth_motion_is_compensated_by_flow():
    moving = temporal(_textured(8, shift=1.5))
    jumpy = temporal(np.stack([_textured(1, seed=s)[0] for s in range(8)]))
    assert np.mean(moving.warp_error) < 0.03 < np.mean(jumpy.warp_error)


def test_more_flicker_scores_monotonically_worse():
    clip = render(spec_for(3))
    r = np.random.default_rng(0)
    gains = r.standard_normal(len(clip))
    scores = []
    for amp in (0.0, 0.03, 0.06, 0.12):
        v = np.clip(clip.astype(np.float32) * (1 + amp * gains)[:, None, None, None], 0, 255).astype(np.uint8)
        scores.append(weight_free(v))
    for a, b in zip(scores, scores[1:]):
        assert b["flicker"] > a["flicker"] and b["warp_error"] > a["warp_error"]


def test_blur_lowers_sharpness():
    clip = render(spec_for(4))
    blurred = [np.stack([cv2.GaussianBlur(f, (0, 0), s) for f in clip]) for s in (0.8, 1.5, 3.0)]
    values = [sharpness(clip)] + [sharpness(b) for b in blurred]
    assert values == sorted(values, reverse=True) and values[-1] < 0.5 * values[0]


def test_psnr_and_ssim_against_a_reference():
    clip = render(spec_for(5))
    assert psnr(clip, clip) == PSNR_CAP and abs(ssim(clip, clip) - 1.0) < 1e-9
    r = np.random.default_rng(1)
    noisy = [np.clip(clip + r.normal(0, s, clip.shape), 0, 255).astype(np.uint8) for s in (2, 8, 20)]
    ps = [psnr(n, clip) for n in noisy]
    ss = [ssim(n, clip) for n in noisy]
    assert ps == sorted(ps, reverse=True) and ss == sorted(ss, reverse=True) and ps[0] < PSNR_CAP
    assert abs(psnr(noisy[1], clip) - 10 * np.log10(255**2 / 64)) < 0.5  # sigma 8 -> about 30 dB
    # a reference of another size is resized to match
    big = np.stack([cv2.resize(f, (128, 128), interpolation=cv2.INTER_CUBIC) for f in clip])
    assert psnr(clip, big) > 25


def test_detail_loss_counts_only_sharpness_lost():
    from evs_cli.eval.metrics import detail_loss, sharpness_gap

    assert detail_loss(50.0, 100.0) == pytest.approx(np.log(2))  # half the input's sharpness
    assert detail_loss(200.0, 100.0) == 0.0 and detail_loss(100.0, 100.0) == 0.0  # sharper: nothing lost
    assert sharpness_gap(200.0, 100.0) == pytest.approx(np.log(2))  # against a clean reference both ways count
