"""Weight-free video metrics: temporal consistency from optical flow, sharpness, fidelity to a reference.

Frames are uint8 (F, H, W, 3) numpy arrays. Flow is OpenCV's DIS (Farneback on request), computed on
grey frames; pixels that fail a forward-backward check (occluded or badly matched) are masked out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PSNR_CAP = 100.0  # dB for identical frames, so JSON and tables stay finite


def _grey(f: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)


def flow(a: np.ndarray, b: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow from frame a to frame b, (H, W, 2) in pixels: a(x) ~ b(x + flow(x))."""
    ga, gb = _grey(a), _grey(b)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(ga, gb, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {method!r}")


def warp(img: np.ndarray, fl: np.ndarray) -> np.ndarray:
    """Sample img at x + flow(x)."""
    h, w = fl.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + fl[..., 0], gy + fl[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def valid_mask(fw: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Forward-backward consistency (Sundaram et al. 2010): occluded pixels fail it."""
    bw_at = warp(bw, fw)
    diff = ((fw + bw_at) ** 2).sum(-1)
    bound = 0.01 * ((fw**2).sum(-1) + (bw_at**2).sum(-1)) + 0.5
    h, w = fw.shape[:2]
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    inside = (gx + fw[..., 0] >= 0) & (gx + fw[..., 0] <= w - 1) & (gy + fw[..., 1] >= 0) & (gy + fw[..., 1] <= h - 1)
    return (diff <= bound) & inside


@dataclass
class Temporal:
    warp_error: list[float]  # per consecutive pair: mean |I_t - warp(I_t+1)| over valid pixels, in [0, 1]
    flicker: list[float]  # per pair: |mean over valid pixels of (I_t - warp(I_t+1))|, colour-averaged, in [0, 1]


def temporal(frames: np.ndarray, method: str = "dis") -> Temporal:
    we, fl = [], []
    for a, b in zip(frames[:-1], frames[1:]):
        fw, bw = flow(a, b, method), flow(b, a, method)
        m = valid_mask(fw, bw)
        if m.sum() < 16:  # nothing matched (a cut): compare without motion compensation
            m[:] = True
            fw = np.zeros_like(fw)
        d = a.astype(np.float32) - warp(b, fw).astype(np.float32)
        we.append(float(np.abs(d[m]).mean() / 255))
        fl.append(float(np.abs(d[m].mean(axis=0)).mean() / 255))
    return Temporal(we, fl)


def sharpness(frames: np.ndarray) -> float:
    """Mean over frames of the variance of the Laplacian of the grey frame (higher is sharper)."""
    return float(np.mean([cv2.Laplacian(_grey(f).astype(np.float64), cv2.CV_64F).var() for f in frames]))


def sharpness_gap(sharp: float, of: float) -> float:
    """|log(sharpness / another's)|: softer and noisier both count as further away."""
    return abs(float(np.log(max(sharp, 1e-6) / max(of, 1e-6))))


def detail_loss(sharp: float, of: float) -> float:
    """max(0, log(another's sharpness / this one's)): detail lost against another video, none for sharpening
    (without a clean reference, a sharper result than its input is not a fault)."""
    return max(0.0, float(np.log(max(of, 1e-6) / max(sharp, 1e-6))))


def match_reference(frames: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The reference resized to the frames' size, and cut to their count."""
    n = min(len(frames), len(ref))
    h, w = frames.shape[1:3]
    if ref.shape[1:3] != (h, w):
        ref = np.stack([cv2.resize(r, (w, h), interpolation=cv2.INTER_AREA) for r in ref[:n]])
    return ref[:n]


def psnr(frames: np.ndarray, ref: np.ndarray) -> float:
    ref = match_reference(frames, ref)
    mse = np.mean((frames[: len(ref)].astype(np.float64) - ref.astype(np.float64)) ** 2)
    return PSNR_CAP if mse == 0 else float(min(PSNR_CAP, 10 * np.log10(255.0**2 / mse)))


def ssim(frames: np.ndarray, ref: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03) over frames and channels."""
    ref = match_reference(frames, ref)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    vals = []
    for a, b in zip(frames[: len(ref)].astype(np.float64), ref.astype(np.float64)):
        mu_a, mu_b = blur(a), blur(b)
        va, vb, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


def consistency(frames: np.ndarray, method: str = "dis") -> dict:
    """Mean warping error and flicker over consecutive pairs (0 for a single frame)."""
    t = temporal(frames, method)
    return {"warp_error": float(np.mean(t.warp_error)) if t.warp_error else 0.0,
            "flicker": float(np.mean(t.flicker)) if t.flicker else 0.0}


def weight_free(frames: np.ndarray, ref: np.ndarray | None = None, method: str = "dis") -> dict:
    """Every weight-free metric of one video, as a flat dict of floats."""
    out = {**consistency(frames, method), "sharpness": sharpness(frames)}
    if ref is not None:
        out["psnr"] = psnr(frames, ref)
        out["ssim"] = ssim(frames, ref)
    return out
