"""What a tune measures on each refined video, and on which axis each measure counts.

Consistency: warp error and flicker (always), VBench motion smoothness and subject consistency (when their
weights are local). Imaging: PSNR and SSIM against --reference and the sharpness gap to it (softer and noisier both count);
without a reference, the detail lost against the input (how much of its sharpness survives: a result sharper
than its input loses nothing, so refinement that restores detail is not punished as blur would be); DOVER and
the aesthetic predictor when their weights are local.
"""

from __future__ import annotations

import numpy as np

from ..eval.metrics import detail_loss, match_reference, sharpness, sharpness_gap, weight_free

# measure -> the axis it counts on (choose.ERROR says which way is better)
MEASURES = {"warp_error": "consistency", "flicker": "consistency", "motion_smoothness": "consistency",
            "subject_consistency": "consistency", "psnr": "imaging", "ssim": "imaging", "sharpness_gap": "imaging",
            "detail_loss": "imaging", "dover": "imaging", "aesthetic": "imaging"}
# Measures where the input has a value worth beating; the detail lost against the input is 0 for the input itself.
AGAINST_INPUT = ("warp_error", "flicker", "psnr", "ssim", "motion_smoothness", "subject_consistency", "dover",
                 "aesthetic")


def gap_target(frames: np.ndarray, reference: np.ndarray | None) -> float:
    """The sharpness a video's results are held against: its reference's (as the results are sized), else its
    input's; once per video."""
    return sharpness(match_reference(frames, reference) if reference is not None else frames)


def score(frames: np.ndarray, target_sharpness: float, reference: np.ndarray | None, flow: str = "dis",
          scorers: dict | None = None) -> dict:
    """Every available measure of one video (uint8 frames), as a flat dict of floats."""
    row = weight_free(frames, reference, flow)
    if reference is not None:
        row["sharpness_gap"] = sharpness_gap(row["sharpness"], target_sharpness)
    else:
        row["detail_loss"] = detail_loss(row["sharpness"], target_sharpness)
    for name, fn in (scorers or {}).items():
        row[name] = float(fn(frames))
    return row


def used(rows: list[dict]) -> list[str]:
    """The measures every row has, in MEASURES order (a tune compares like with like)."""
    return [m for m in MEASURES if rows and all(m in r for r in rows)]
