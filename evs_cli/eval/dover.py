"""DOVER (Wu et al., "Exploring Video Quality Assessment on User Generated Contents from Aesthetic and
Technical Perspectives", ICCV 2023), the paper's DOVER column.

Written here from the DOVER repository's inference path (`evaluate_one_video.py` with `dover.yml`), with
the same module names, so the published `DOVER.pth` loads as is:
- technical view: 3 segments of 32 frames (every 2nd frame), each frame cut into a 7x7 grid of 32x32
  fragments (upsampled first when smaller than 224), scored by a 3D Swin-T whose attention adds a
  "gated relative position bias" (a separate bias table for tokens of the same fragment);
- aesthetic view: 32 frames resized to 224x224, scored by a 3D-inflated ConvNeXt-T;
- each branch: a 1x1x1 conv head, averaged over space-time; the two scores are fused by DOVER's fixed
  score-level weights and a sigmoid into [0, 1]. We report it x100, the scale of the paper's table.

Where DOVER draws fragment offsets at random (only for frames larger than 7 fragments need), we draw
them from a seeded generator, so a video always gets the same score.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import EvsError
from .dover_net import DOVER
from .vbench_metrics import load_checkpoint

MEAN = (123.675, 116.28, 103.53)  # ImageNet mean / std on the 0-255 scale
STD = (58.395, 57.12, 57.375)
FRAGMENTS, FRAGMENT_SIZE, CLIP_LEN, SEGMENTS, INTERVAL = 7, 32, 32, 3, 2


# ---- the views, as DOVER's inference samples them ----

def frame_indices(total: int, clip_len: int, segments: int, interval: int, rng: np.random.Generator) -> np.ndarray:
    """DOVER's UnifiedFrameSampler: `segments` equal parts, `clip_len` frames `interval` apart from a random
    start in each part (start 0 when the part is too short), wrapped around the video's length."""
    grid = np.array([total // segments * i for i in range(segments)])
    part = total // segments
    if part > clip_len * interval:
        start = rng.integers(0, part - clip_len * interval, size=segments)
    else:
        start = np.zeros(segments, dtype=np.int64)
    idx = np.arange(clip_len)[None, :] * interval + start[:, None] + grid[:, None]
    return np.mod(idx.reshape(-1), total)


def fragments(video: torch.Tensor, rng: torch.Generator, n: int = FRAGMENTS, size: int = FRAGMENT_SIZE,
              aligned: int = CLIP_LEN) -> torch.Tensor:
    """uint8 (C, T, H, W) -> float (C, T, n*size, n*size): for each cell of an n x n grid, a size x size patch
    at a random offset inside the cell, the same for `aligned` consecutive frames."""
    _, t, h, w = video.shape
    ratio = min(h / (n * size), w / (n * size))
    if ratio < 1:  # too small for the grid: upsample, and truncate back to uint8 as DOVER does
        video = (F.interpolate(video.float() / 255.0, scale_factor=1 / ratio, mode="bilinear") * 255.0).to(torch.uint8)
        # DOVER keeps the grid of the size before upsampling, so small videos are sampled near the top-left
        # corner; we do the same, or scores would not be DOVER's
    cell_h, cell_w = h // n, w // n
    starts_h = [min(cell_h * i, h - size) for i in range(n)]
    starts_w = [min(cell_w * i, w - size) for i in range(n)]
    chunks = t // aligned
    off_h = (torch.randint(cell_h - size, (n, n, chunks), generator=rng) if cell_h > size
             else torch.zeros((n, n, chunks), dtype=torch.long))
    off_w = (torch.randint(cell_w - size, (n, n, chunks), generator=rng) if cell_w > size
             else torch.zeros((n, n, chunks), dtype=torch.long))
    out = torch.zeros(video.shape[:2] + (n * size, n * size))
    for i, hs in enumerate(starts_h):
        for j, ws in enumerate(starts_w):
            for c in range(chunks):
                y, x = hs + int(off_h[i, j, c]), ws + int(off_w[i, j, c])
                out[:, c * aligned : (c + 1) * aligned, i * size : (i + 1) * size, j * size : (j + 1) * size] = \
                    video[:, c * aligned : (c + 1) * aligned, y : y + size, x : x + size]
    return out


def resized(video: torch.Tensor, size: int = 224) -> torch.Tensor:
    """uint8 (C, T, H, W) -> (C, T, size, size), torchvision's tensor Resize: bilinear, antialiased (its default
    since 0.17; older torchvision, which DOVER was released with, did not antialias tensors), rounded back to uint8."""
    x = F.interpolate(video.permute(1, 0, 2, 3).float(), size=(size, size), mode="bilinear", align_corners=False,
                      antialias=True)
    return x.round().clamp(0, 255).permute(1, 0, 2, 3)


def normalise(view: torch.Tensor, clips: int) -> torch.Tensor:
    """(C, T, H, W) on 0-255 -> (clips, C, T / clips, H, W), ImageNet-normalised."""
    mean = torch.tensor(MEAN).view(3, 1, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1, 1)
    v = (view - mean) / std
    return v.reshape(3, clips, -1, *v.shape[2:]).transpose(0, 1)


def views(frames: np.ndarray, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (F, H, W, 3) -> (technical, aesthetic) model inputs, sampled as DOVER's dover.yml says."""
    rng_np, rng = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2)  # (C, T, H, W)
    tech_idx = frame_indices(len(frames), CLIP_LEN, SEGMENTS, INTERVAL, rng_np)
    aes_idx = frame_indices(len(frames), 1, CLIP_LEN, INTERVAL, rng_np)  # 32 single frames, one per part
    technical = normalise(fragments(video[:, torch.from_numpy(tech_idx)], rng), SEGMENTS)
    aesthetic = normalise(resized(video[:, torch.from_numpy(aes_idx)]), 1)
    return technical, aesthetic


def fuse(technical: float, aesthetic: float) -> float:
    """DOVER's score-level fusion (its evaluate_one_video.py `fuse_results`), in [0, 1]."""
    x = (technical - 0.1107) / 0.07355 * 0.6104 + (aesthetic + 0.08285) / 0.03774 * 0.3896
    return float(1 / (1 + np.exp(-x)))


@torch.no_grad()
def dover_scores(frames: np.ndarray, model: DOVER, seed: int = 0) -> dict:
    dev = next(model.parameters()).device
    technical, aesthetic = views(frames, seed)
    t, a = model(technical.to(dev), aesthetic.to(dev))
    return {"technical": float(t), "aesthetic": float(a), "dover": 100.0 * fuse(float(t), float(a))}


def load_dover(path: str | None = None, device="cpu") -> DOVER:
    """DOVER from --dover / $EVS_DOVER: the published DOVER.pth (a plain state dict of this module)."""
    path = path or os.environ.get("EVS_DOVER")
    if not path:
        raise EvsError("dover skipped: no DOVER weights (pass --dover DOVER.pth or set EVS_DOVER; "
                       "DOVER.pth is in the DOVER repository's releases)")
    file = Path(path).expanduser()
    if not file.is_file():
        raise EvsError(f"dover skipped: {path}: no such file")
    return load_checkpoint(DOVER(), file, "dover", "a DOVER", device)


def dover_score(frames: np.ndarray, model: DOVER) -> float:
    """The fused DOVER score on the paper's 0-100 scale."""
    return dover_scores(frames, model)["dover"]
