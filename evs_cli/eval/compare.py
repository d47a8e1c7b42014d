"""`evs compare`: a contact sheet (labelled rows of sampled frames plus an enlarged crop), a plot of
per-frame temporal error, and an optional side-by-side MP4."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.video import read_video, write_mp4
from .metrics import temporal

LABEL_W, HEADER_H = 160, 24
# Tableau 10: ten colours that stay apart from each other (and for the colour-blind, mostly)
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
DASHES = [None, (8, 4), (2, 3)]  # after ten curves, colours repeat with another line style


def _font(size=14):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def distinct_labels(paths: list[Path], strip_suffix: bool = True) -> list[str]:
    """The shortest path endings (without a file's suffix) that tell the videos apart: clip, or a/clip and
    b/clip when two folders hold a clip.mp4; the same file given twice is told apart by its position."""
    parts = [(Path(p).with_suffix("") if strip_suffix else Path(p).resolve()).parts for p in paths]
    for depth in range(1, max(len(x) for x in parts) + 1):
        labels = ["/".join(x[-depth:]) for x in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{label} ({k + 1})" for k, label in enumerate(labels)]


_TOKEN = re.compile(r"[^\s/_.-]*[\s/_.-]*")


def fit_lines(draw: ImageDraw.ImageDraw, text: str, font, width: float, max_lines: int) -> list[str]:
    """`text` in at most `max_lines` lines of at most `width` pixels, broken after spaces, slashes, dashes,
    dots and underscores, never inside a word while a word fits a line; what does not fit ends in an ellipsis
    after a whole word."""
    def w(t):
        return draw.textlength(t, font=font)

    tokens = [t for t in _TOKEN.findall(text) if t]
    lines: list[str] = []
    line = ""
    for tok in tokens:
        if w(line + tok) <= width or not line:
            line += tok
        else:
            lines.append(line.rstrip())
            line = tok
        while w(line) > width and len(line) > 1:  # one word wider than the line: the only mid-word break
            cut = max(k for k in range(1, len(line) + 1) if w(line[:k]) <= width or k == 1)
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = [t for t in _TOKEN.findall(kept[-1]) if t]
    while last and w("".join(last).rstrip() + "\u2026") > width:
        last.pop()
    kept[-1] = "".join(last).rstrip() + "\u2026"
    return kept


def _line_height(draw: ImageDraw.ImageDraw, font) -> int:
    box = draw.textbbox((0, 0), "Ag", font=font)
    return box[3] - box[1] + 3


def _to_height(frames: np.ndarray, h: int) -> np.ndarray:
    if frames.shape[1] == h:
        return frames
    w = max(1, round(frames.shape[2] * h / frames.shape[1]))
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BICUBIC)) for f in frames])


def load(paths: list[Path], height: int | None = None) -> tuple[list[np.ndarray], Fraction]:
    """The videos' frames, all brought to the first one's height (or `height`), and the first one's rate."""
    read = [read_video(p) for p in paths]
    vids = [r.frames.numpy() for r in read]
    h = height or vids[0].shape[1]
    return [_to_height(v, h) for v in vids], read[0].fps


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
    lh = _line_height(d, font)
    for r, (v, label) in enumerate(zip(videos, labels)):
        y = HEADER_H + r * row_h
        lines = fit_lines(d, label, font, LABEL_W - 12, max(1, row_h // lh))
        for i, line in enumerate(lines):
            d.text((6, y + (row_h - lh * len(lines)) // 2 + i * lh), line, fill=(0, 0, 0), font=font)
        for k, t in enumerate(picks):
            img.paste(Image.fromarray(v[t]), (LABEL_W + k * w, y))
        fh, fw = v.shape[1:3]
        crop = v[cf][fh // 4 : fh // 4 + fh // 2, fw // 4 : fw // 4 + fw // 2]
        img.paste(Image.fromarray(crop).resize((cw, ch), Image.NEAREST), (LABEL_W + n_frames * w, y))
    return img


def _ticks(n: int, most: int = 8) -> list[int]:
    """Integer positions 0, step, 2 step, ... below n, with the smallest round step (1, 2, 5, 10, 20, ...)
    that gives at most `most` of them."""
    step = 1
    while (n - 1) // step + 1 > most:
        step = step * 5 // 2 if str(step).startswith("2") else step * 2
    return list(range(0, n, step))


def _dashed(d: ImageDraw.ImageDraw, pts, fill, width, dash) -> None:
    if dash is None:
        d.line(pts, fill=fill, width=width)
        return
    on, off = dash
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        length = max(1e-9, ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5)
        a = 0.0
        while a < length:
            b = min(length, a + on)
            d.line([(x0 + (x1 - x0) * a / length, y0 + (y1 - y0) * a / length),
                    (x0 + (x1 - x0) * b / length, y0 + (y1 - y0) * b / length)], fill=fill, width=width)
            a += on + off


def error_plot(series: dict[str, list[float]], title: str = "warping error between consecutive frames",
               size=(720, 360)) -> Image.Image:
    """A line chart: one line per video (a dot per value, so a one-value series shows too), x = frame pair
    with ticks, y = error; the legend beside it, each label in up to two lines."""
    series = {k: [float(v) if np.isfinite(v) else np.nan for v in s] for k, s in series.items()}
    left, right, top, bottom = 60, 190, 30, 46
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font = _font(12)
    lh = _line_height(probe, font)
    legend = [fit_lines(probe, label, font, right - 44, 2) for label in series]
    W = size[0]
    H = max(size[1], top + 10 + sum(lh * len(x) + 4 for x in legend) + bottom)  # room for every legend entry
    img = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(img)
    finite = [v for s in series.values() for v in s if np.isfinite(v)]
    ymax = (max(finite, default=0.0) * 1.1) or 1.0
    n = max((len(s) for s in series.values()), default=1)
    x0, x1, y0, y1 = left, W - right, top, H - bottom

    def x_of(i):
        return x0 + (x1 - x0) * (i / max(1, n - 1)) if n > 1 else (x0 + x1) / 2

    def y_of(v):
        return y1 - (y1 - y0) * v / ymax

    d.rectangle([x0, y0, x1, y1], outline=(0, 0, 0))
    d.text((left, 8), title, fill=(0, 0, 0), font=font)
    for i in range(5):
        yv = ymax * i / 4
        d.line([x0 - 4, y_of(yv), x0, y_of(yv)], fill=(0, 0, 0))
        d.text((4, y_of(yv) - 6), f"{yv:.3f}", fill=(0, 0, 0), font=font)
    for i in _ticks(n):
        d.line([x_of(i), y1, x_of(i), y1 + 4], fill=(0, 0, 0))
        label = str(i)
        d.text((x_of(i) - d.textlength(label, font=font) / 2, y1 + 6), label, fill=(0, 0, 0), font=font)
    d.text((left, y1 + 8 + lh), "frame pair (t, t+1)", fill=(0, 0, 0), font=font)
    y_legend = top + 4
    for k, ((label, s), lines) in enumerate(zip(series.items(), legend)):
        col, dash = PALETTE[k % len(PALETTE)], DASHES[(k // len(PALETTE)) % len(DASHES)]
        run: list[tuple[float, float]] = []
        for i, v in enumerate([*s, np.nan]):  # a gap (a non-finite value) breaks the line
            if np.isfinite(v):
                run.append((x_of(i), y_of(v)))
                d.ellipse([x_of(i) - 2, y_of(v) - 2, x_of(i) + 2, y_of(v) + 2], fill=col)
            else:
                if len(run) > 1:
                    _dashed(d, run, col, 2, dash)
                run = []
        _dashed(d, [(x1 + 10, y_legend + lh // 2), (x1 + 34, y_legend + lh // 2)], col, 3, dash)
        for line in lines:
            d.text((x1 + 40, y_legend), line, fill=(0, 0, 0), font=font)
            y_legend += lh
        y_legend += 4
    return img


def side_by_side(videos: list[np.ndarray], labels: list[str], out: Path, fps: Fraction) -> None:
    """The videos left to right, each labelled inside its own panel (wrapped, and smaller on small panels)."""
    n = min(len(v) for v in videos)
    h = videos[0].shape[1]
    font = _font(max(9, min(16, h // 12)))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lh = _line_height(probe, font)
    wrapped = [fit_lines(probe, label, font, v.shape[2] - 8, max(1, h // (2 * lh))) for v, label in zip(videos, labels)]
    frames = []
    for t in range(n):
        row = np.concatenate([v[t] for v in videos], axis=1)
        im = Image.fromarray(row)
        d = ImageDraw.Draw(im)
        x = 0
        for v, lines in zip(videos, wrapped):
            for i, line in enumerate(lines):
                d.text((x + 4, 3 + i * lh), line, fill=(255, 255, 255), font=font, stroke_width=2,
                       stroke_fill=(0, 0, 0))
            x += v.shape[2]
        frames.append(np.asarray(im))
    arr = np.stack(frames)
    h, w = arr.shape[1:3]
    arr = np.pad(arr, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))  # yuv420p needs even sides
    import torch

    write_mp4(torch.from_numpy(np.ascontiguousarray(arr)), out, fps)


def per_frame_errors(videos: list[np.ndarray], labels: list[str]) -> dict[str, list[float]]:
    return {label: temporal(v).warp_error for v, label in zip(videos, labels)}
