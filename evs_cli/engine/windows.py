"""Overlapping temporal windows for the motion module, and weights that blend them without seams."""

from __future__ import annotations

import torch


def plan_windows(frames: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) windows of `size` frames covering `frames`, neighbours sharing >= `overlap` frames."""
    if frames <= size:
        return [(0, frames)]
    if not 0 <= overlap < size:
        raise ValueError(f"window overlap must be in 0..{size - 1}, got {overlap}")
    stride = size - overlap
    starts = list(range(0, frames - size, stride)) + [frames - size]
    return [(s, s + size) for s in starts]


def blend_weights(windows: list[tuple[int, int]], frames: int) -> list[torch.Tensor]:
    """Per-window frame weights, normalised to sum to 1 per frame.

    Each window's weight ramps linearly up from its first frame and down to its last, except at the
    video's own ends, so a frame's blend shifts gradually from one window to the next: no jump at any
    window border.
    """
    raw = []
    for s, e in windows:
        n = e - s
        i = torch.arange(n, dtype=torch.float64)
        up = (i + 1) if s > 0 else torch.full((n,), float(n))
        down = (n - i) if e < frames else torch.full((n,), float(n))
        raw.append(torch.minimum(up, down))
    total = torch.zeros(frames, dtype=torch.float64)
    for (s, e), w in zip(windows, raw):
        total[s:e] += w
    return [(w / total[s:e]).float() for (s, e), w in zip(windows, raw)]


def blend(outputs: list[torch.Tensor], windows: list[tuple[int, int]], frames: int,
          weights: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Blend per-window outputs (f, ...) into one (frames, ...) tensor; `weights`: blend_weights, made ahead
    on the outputs' device (else made here, and copied to the device for each call)."""
    weights = weights if weights is not None else blend_weights(windows, frames)
    out = torch.zeros((frames,) + tuple(outputs[0].shape[1:]), dtype=outputs[0].dtype, device=outputs[0].device)
    for (s, e), w, o in zip(windows, weights, outputs):
        out[s:e] += w.to(o.device, o.dtype).view(-1, *([1] * (o.ndim - 1))) * o
    return out
