"""Procedural clips: a textured shape moving smoothly over a textured background, with its prompt.

Every clip is a pure function of its seed, so training, held-out test sets and the shipped sample
are reproducible. `degrade` turns a clean clip into what a weak T2V generator makes, in one of several
families of defects (local shimmer, global flicker and jitter, noise, compression blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE, FRAMES = 64, 16
COLORS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 80, 220), "yellow": (230, 210, 40),
          "white": (235, 235, 235), "purple": (150, 60, 190)}
SHAPES = ("circle", "square", "triangle")
BACKGROUNDS = ("stripes", "checks", "dots")
MOTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
WORDS = sorted({*COLORS, *SHAPES, *BACKGROUNDS, *MOTIONS, "a", "moving", "over"})


@dataclass(frozen=True)
class ClipSpec:
    shape: str
    color: str
    background: str
    bg_color: str
    motion: str
    seed: int

    @property
    def prompt(self) -> str:
        return f"a {self.color} {self.shape} moving {self.motion} over {self.bg_color} {self.background}"


def spec_for(seed: int) -> ClipSpec:
    r = np.random.default_rng(seed)
    color, bg_color = r.choice(list(COLORS), 2, replace=False)
    return ClipSpec(str(r.choice(SHAPES)), str(color), str(r.choice(BACKGROUNDS)), str(bg_color),
                    str(r.choice(list(MOTIONS))), seed)


def _background(spec: ClipSpec, r: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = r.uniform(6, 10)
    if spec.background == "stripes":
        angle = r.uniform(0, np.pi)
        u = xx * np.cos(angle) + yy * np.sin(angle)
        mask = 0.5 + 0.5 * np.tanh(4 * np.sin(2 * np.pi * u / period))
    elif spec.background == "checks":
        mask = 0.5 + 0.5 * np.tanh(4 * np.sin(2 * np.pi * xx / period) * np.sin(2 * np.pi * yy / period))
    else:
        cx, cy = (xx % period) - period / 2, (yy % period) - period / 2
        mask = 1 / (1 + np.exp(3 * (np.hypot(cx, cy) - period / 4)))
    fg, bg = np.array(COLORS[spec.bg_color], np.float32), np.array((25, 25, 30), np.float32)
    return bg + mask[..., None] * (fg - bg)


def _shape_mask(spec: ClipSpec, cx: float, cy: float, radius: float, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    if spec.shape == "circle":
        d = np.hypot(dx, dy) - radius
    elif spec.shape == "square":
        d = np.maximum(np.abs(dx), np.abs(dy)) - radius * 0.85
    else:  # triangle pointing up
        d = np.maximum(np.abs(dx) * 0.866 + dy * 0.5, -dy) - radius * 0.6
    return np.clip(0.5 - d, 0.0, 1.0)  # anti-aliased edge, one pixel wide


def _layout(spec: ClipSpec, frames: int, size: int):
    """(background, radius, speed, start x, start y): the clip's random draws, in their fixed order."""
    r = np.random.default_rng(spec.seed + 7919)
    bg = _background(spec, r, size)
    radius = r.uniform(9, 13)
    speed = r.uniform(1.0, 2.0)
    vx, vy = MOTIONS[spec.motion]
    span = speed * (frames - 1)
    cx = size / 2 - vx * span / 2 + r.uniform(-4, 4) * (vx == 0)
    cy = size / 2 - vy * span / 2 + r.uniform(-4, 4) * (vy == 0)
    return bg, radius, speed, cx, cy


def _object_coverage(spec: ClipSpec, frames: int, size: int):
    """Per frame: (x, y, the shape's anti-aliased coverage (size, size) in 0..1)."""
    bg, radius, speed, cx, cy = _layout(spec, frames, size)
    vx, vy = MOTIONS[spec.motion]
    for t in range(frames):
        x, y = cx + vx * speed * t, cy + vy * speed * t
        yield x, y, _shape_mask(spec, x, y, radius, size)


def render(spec: ClipSpec, frames: int = FRAMES, size: int = SIZE) -> np.ndarray:
    """uint8 (frames, size, size, 3)."""
    bg = _layout(spec, frames, size)[0]
    color = np.array(COLORS[spec.color], np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out = np.empty((frames, size, size, 3), np.uint8)
    for t, (x, y, coverage) in enumerate(_object_coverage(spec, frames, size)):
        m = coverage[..., None]
        shade = 0.75 + 0.25 * np.cos(2 * np.pi * (xx - x) / 6)[..., None]  # fine texture on the shape
        out[t] = np.clip(bg * (1 - m) + color * shade * m, 0, 255).astype(np.uint8)
    return out


def object_mask(spec: ClipSpec, frames: int = FRAMES, size: int = SIZE) -> np.ndarray:
    """bool (frames, size, size): where the moving object covers at least half a pixel (for fidelity
    measured on the object alone: is it kept, or repainted and erased?)."""
    return np.stack([coverage >= 0.5 for _, _, coverage in _object_coverage(spec, frames, size)])


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)


def soften(clip: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """The softer frames the toy T2V learns from (real T2V models image worse than T2I models)."""
    return np.stack([_blur(f, sigma) for f in clip])


def _shift(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The frame moved by (dx, dy) pixels, sub-pixel, edges mirrored."""
    import cv2

    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REFLECT)


def flicker_jitter(clip: np.ndarray, seed: int, blur: float = 1.2, flicker: float = 0.08, jitter: float = 1.0,
                   noise: float = 0.0) -> np.ndarray:
    """Blurred frames with per-frame global gain/colour flicker and whole-frame positional jitter (and
    optionally sensor-like noise, which the VAE training also saw).

    Blur sigma 1.2 leaves the 6-10 px textures soft but present (a sigma of 2 keeps only 11-40% of their
    contrast, which no T2I restores at a strength that keeps the content)."""
    r = np.random.default_rng(seed + 104729)
    out = []
    for f in clip.astype(np.float32):
        f = _blur(f, blur) if blur > 0 else f
        gain = 1 + flicker * r.standard_normal() + 0.5 * flicker * r.standard_normal(3)
        f = f * gain[None, None, :]
        if jitter > 0:
            f = _shift(f, jitter * r.standard_normal(), jitter * r.standard_normal())
        f = f + noise * r.standard_normal(f.shape)
        out.append(np.clip(f, 0, 255))
    return np.stack(out).round().astype(np.uint8)


def _smooth_field(r: np.random.Generator, size: int, cells: int, channels: int) -> np.ndarray:
    """Random values on a coarse grid, interpolated smoothly to (size, size, channels): unit spread, regions
    about size/cells pixels across."""
    import cv2

    coarse = r.standard_normal((cells, cells, channels)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).reshape(size, size, channels)


def shimmer(clip: np.ndarray, seed: int, blur: float = 1.0, local: float = 0.10, wobble: float = 0.7,
            flicker: float = 0.03) -> np.ndarray:
    """What a weak T2V generator gets wrong, mostly locally: every frame redraws edges and textures a little
    differently (a smooth random displacement field, `wobble` px spread, about 13 px regions) and shifts the
    brightness and colour of regions on its own (`local` gain spread); the frames are soft, and there is a
    little global flicker on top."""
    import cv2

    r = np.random.default_rng(seed + 611953)
    size = clip.shape[1]  # square clips
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    out = []
    for f in clip.astype(np.float32):
        f = _blur(f, blur) if blur > 0 else f
        d = wobble * _smooth_field(r, size, 5, 2)
        f = cv2.remap(f, gx + d[..., 0], gy + d[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        gain = 1 + local * _smooth_field(r, size, 4, 3) + flicker * r.standard_normal()
        out.append(np.clip(f * gain, 0, 255))
    return np.stack(out).round().astype(np.uint8)


def noisy(clip: np.ndarray, seed: int, blur: float = 1.0, noise: float = 8.0, flicker: float = 0.03) -> np.ndarray:
    """Soft frames with fresh per-pixel noise in every frame (high-frequency temporal inconsistency
    everywhere) and a little global flicker."""
    r = np.random.default_rng(seed + 15485863)
    out = []
    for f in clip.astype(np.float32):
        f = _blur(f, blur) if blur > 0 else f
        f = f * (1 + flicker * r.standard_normal()) + noise * r.standard_normal(f.shape)
        out.append(np.clip(f, 0, 255))
    return np.stack(out).round().astype(np.uint8)


def blocky(clip: np.ndarray, seed: int, blur: float = 0.8, quality: int = 20, jitter: float = 0.4) -> np.ndarray:
    """Each frame shifted by a fraction of a pixel, then JPEG-compressed on its own: 8x8 block edges and
    ringing that change from frame to frame."""
    import cv2

    r = np.random.default_rng(seed + 32452843)
    out = []
    for f in clip.astype(np.float32):
        f = _blur(f, blur) if blur > 0 else f
        f = _shift(f, jitter * r.standard_normal(), jitter * r.standard_normal())
        _, buf = cv2.imencode(".jpg", np.clip(f, 0, 255).round().astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))
    return np.stack(out)


# The families of defects held-out clips can carry. Shimmer (mostly local inconsistency, which noising can
# remove) is the default and what the toy preset was tuned on; the others test it on defects it never saw.
DEGRADATIONS = {"shimmer": shimmer, "flicker": flicker_jitter, "noise": noisy, "blocky": blocky}
DEFAULT_DEGRADATION = "shimmer"


def degrade(clip: np.ndarray, seed: int, family: str = DEFAULT_DEGRADATION) -> np.ndarray:
    """A weak T2V generator's version of a clean clip, with one family's defects (see DEGRADATIONS)."""
    return DEGRADATIONS[family](clip, seed)
