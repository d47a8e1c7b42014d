"""`evs compare`: a contact sheet (labelled rows of sampled frames plus an enlarged crop), a plot of
per-frame temporal error, and an optional side-by-side MP4."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.video import read_video, write_mp4
from .metrics import temporal

LABEL_W, HEADER_H = 160, 24
PALETTE = [(230, 57, 70), (29, 53, 87), (42, 157, 143), (233, 196, 106), (131, 56, 236), (244, 162, 97)]


def _font(size=14):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _to_height(frames: np.ndarray, h: int) -> np.ndarray:
    if frames.shape[1] == h:
        return frames
    w = max(1, round(frames.shape[2] * h / frames.shape[1]))
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BICUBIC)) for f in frames])


def load(paths: list[Path], height: int | None = None) -> list[np.ndarray]:
    vids = [read_video(p).frames.numpy() for p in paths]
    h = height or vids[0].shape[1]
    return [_to_height(v, h) for v in vids]


def _cells(videos: list[np.ndarray], zoom: int) -> tuple[int, int, int, int]:
    """(frame width, frame height, crop width, crop height): a zoomed centre quarter, even-sided."""
    h = videos[0].shape[1]
    w = max(v.shape[2] for v in videos)
    return w, h, (w // 2) * zoom // 2 * 2, (h // 2) * zoom // 2 * 2


def sheet_size(videos: list[np.ndarray], n_frames: int, zoom: int) -> tuple[int, int]:
    w, h, cw, ch = _cells(videos, zoom)
    return LABEL_W + n_frames * w + cw, HEADER_H + len(videos) * max(h, ch)


def contact_sheet(videos: list[np.ndarray], labels: list[str], n_frames: int = 6, zoom: int = 2,
                  crop_frame: int | None = None) -> Image.Image:
    """Rows: label | n evenly spaced frames | a zoom x enlargement of the centre quarter of one frame."""
    w, h, cw, ch = _cells(videos, zoom)
    row_h = max(h, ch)
    W, H = sheet_size(videos, n_frames, zoom)
    img = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(img)
    font = _font()
    n = min(len(v) for v in videos)
    picks = np.linspace(0, n - 1, n_frames).round().astype(int)
    for k, t in enumerate(picks):
        d.text((LABEL_W + k * w + 4, 4), f"frame {t}", fill=(0, 0, 0), font=font)
    cf = picks[len(picks) // 2] if crop_frame is None else min(crop_frame, n - 1)
    d.text((LABEL_W + n_frames * w + 4, 4), f"x{zoom} crop", fill=(0, 0, 0), font=font)
    for r, (v, label) in enumerate(zip(videos, labels)):
        y = HEADER_H + r * row_h
        d.text((6, y + row_h // 2 - 8), label[:22], fill=(0, 0, 0), font=font)
        for k, t in enumerate(picks):
            img.paste(Image.fromarray(v[t]), (LABEL_W + k * w, y))
        fh, fw = v.shape[1:3]
        crop = v[cf][fh // 4 : fh // 4 + fh // 2, fw // 4 : fw // 4 + fw // 2]
        img.paste(Image.fromarray(crop).resize((cw, ch), Image.NEAREST), (LABEL_W + n_frames * w, y))
    return img


def error_plot(series: dict[str, list[float]], title: str = "warping error between consecutive frames",
               size=(720, 360)) -> Image.Image:
    """A line chart: one line per video, x = frame pair, y = error."""
    W, H = size
    left, right, top, bottom = 60, 170, 30, 40
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    font = _font(12)
    ymax = max((max(s) for s in series.values() if s), default=1.0) * 1.1 or 1.0
    n = max((len(s) for s in series.values()), default=1)
    d.rectangle([left, top, W - right, H - bottom], outline=(0, 0, 0))
    d.text((left, 8), title, fill=(0, 0, 0), font=font)
    for i in range(5):
        yv = ymax * i / 4
        y = H - bottom - (H - top - bottom) * i / 4
        d.line([left - 4, y, left, y], fill=(0, 0, 0))
        d.text((4, y - 6), f"{yv:.3f}", fill=(0, 0, 0), font=font)
    d.text((left, H - bottom + 8), "frame pair (t, t+1)", fill=(0, 0, 0), font=font)
    for k, (label, s) in enumerate(series.items()):
        col = PALETTE[k % len(PALETTE)]
        pts = [(left + (W - right - left) * (i / max(1, n - 1)), H - bottom - (H - top - bottom) * v / ymax)
               for i, v in enumerate(s)]
        if len(pts) > 1:
            d.line(pts, fill=col, width=2)
        d.line([W - right + 10, top + 10 + 18 * k, W - right + 30, top + 10 + 18 * k], fill=col, width=3)
        d.text((W - right + 34, top + 4 + 18 * k), label[:18], fill=(0, 0, 0), font=font)
    return img


def side_by_side(videos: list[np.ndarray], labels: list[str], out: Path, fps: Fraction) -> None:
    n = min(len(v) for v in videos)
    font = _font()
    frames = []
    for t in range(n):
        row = np.concatenate([v[t] for v in videos], axis=1)
        im = Image.fromarray(row)
        d = ImageDraw.Draw(im)
        x = 0
        for v, label in zip(videos, labels):
            d.text((x + 4, 4), label, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
            x += v.shape[2]
        frames.append(np.asarray(im))
    arr = np.stack(frames)
    h, w = arr.shape[1:3]
    arr = np.pad(arr, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))  # yuv420p needs even sides
    import torch

    write_mp4(torch.from_numpy(np.ascontiguousarray(arr)), out, fps)


def per_frame_errors(videos: list[np.ndarray], labels: list[str]) -> dict[str, list[float]]:
    return {label: temporal(v).warp_error for v, label in zip(videos, labels)}
