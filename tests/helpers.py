import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from evs_cli.io.video import write_mp4


def make_clip(path: Path, frames: int = 16, size=(64, 64), fps=8, seed=0) -> Path:
    """A red disc moving over blue stripes, with a little per-frame flicker."""
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 2] = ((xx // 8) % 2) * 200
        img[(xx - 10 - 2 * i) ** 2 + (yy - h // 2) ** 2 < 100] = [220, 30, 30]
        out.append(np.clip(img.astype(int) + rng.integers(-10, 10), 0, 255).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(torch.from_numpy(np.stack(out)), path, Fraction(fps))
    return path


def _env(env_extra: dict | None) -> dict:
    """Offline, and under pytest-xdist one thread per `evs` process: two workers' runs each spinning two
    OpenMP threads on two cores crawl."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if os.environ.get("PYTEST_XDIST_WORKER"):
        env.setdefault("OMP_NUM_THREADS", "1")
    return {**env, **(env_extra or {})}


def evs(*args, timeout=600, env_extra: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = _env(env_extra)
    return subprocess.run([sys.executable, "-m", "evs_cli.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


def evs_bg(*args, threads: int | None = None, env_extra: dict | None = None, **kw) -> subprocess.Popen:
    env = _env(env_extra)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.Popen([sys.executable, "-m", "evs_cli.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".evs-tmp-" in p.name or ".evs-claim" in p.name)


def make_clip_with_audio(path: Path, frames: int = 16, fps: int = 8) -> Path:
    """A 64x64 clip with a 440 Hz AAC tone, written with PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = out.add_stream("aac", rate=16000)
        for i in range(frames):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        n = 16000 * frames // fps
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 16000)).astype(np.float32)[None]
        for k in range(0, n, 1024):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k:k + 1024]), format="fltp", layout="mono")
            fr.sample_rate = 16000
            for p in a.encode(fr):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path


def save_half(model, path) -> None:
    """Save a model's state dict in fp16 (what a published checkpoint may hold; half the disk of fp32)."""
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)


class _Pipe:
    """A write-only, unseekable file: what a muxer writing to a pipe or a browser's MediaRecorder sees."""

    def __init__(self):
        self.data = bytearray()

    def write(self, b) -> int:
        self.data += bytes(b)
        return len(b)

    def seekable(self) -> bool:
        return False


def make_live_webm(path: Path, frames: int = 16, fps: int = 8, audio: str | None = "opus") -> Path:
    """A VP8 WebM written as a live stream (to a pipe): no duration, no frame count in its header."""
    import av

    pipe = _Pipe()
    with av.open(pipe, "w", format="webm") as out:
        v = out.add_stream("libvpx", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = out.add_stream(audio, rate=48000) if audio else None
        for i in range(frames):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        if a is not None:
            _tone(out, a, 48000, frames / fps, chunk=960)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(pipe.data))
    return path


def _tone(out, stream, rate: int, seconds: float, chunk: int = 1024, channels: int = 1) -> None:
    n = int(rate * seconds)
    tone = np.repeat((0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)[None], channels, 0)
    for k in range(0, n, chunk):
        fr = av_frame(tone[:, k:k + chunk], rate)
        for p in stream.encode(fr):
            out.mux(p)
    for p in stream.encode():
        out.mux(p)


def av_frame(samples: np.ndarray, rate: int):
    import av

    fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp",
                                    layout="mono" if samples.shape[0] == 1 else "stereo")
    fr.sample_rate = rate
    return fr


def make_vorbis_mkv(path: Path, frames: int = 16, fps: int = 8) -> Path:
    """An MKV with H.264 video and Vorbis audio (what many screen recorders and converters write)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="matroska") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = out.add_stream("vorbis", rate=44100)
        a.codec_context.options = {"strict": "experimental"}
        a.layout = "stereo"  # FFmpeg's own Vorbis encoder writes two channels only
        for i in range(frames):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        _tone(out, a, 44100, frames / fps, chunk=1024, channels=2)
    return path


def make_vfr_clip(path: Path, frames: int = 16) -> Path:
    """An MP4 whose frames alternate 100 ms and 33 ms apart, as a phone writes when the light changes."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            t += 33 if i % 2 else 100
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
    return path


def make_rotated_clip(path: Path, frames: int = 8) -> Path:
    """A 96x64 clip (a white band along its left edge) whose track says: show it turned 90 degrees clockwise,
    as a phone held upright records. The display matrix is patched into the MP4's tkhd box."""
    import struct

    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=8)
        v.width, v.height, v.pix_fmt = 96, 64, "yuv420p"
        for _ in range(frames):
            img = np.zeros((64, 96, 3), np.uint8)
            img[:, :20] = 255
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert data[at + 4] == 0  # version 0: 32-bit times
    matrix = at + 4 + 4 + 5 * 4 + 8 + 8  # type, version/flags, 5 fields, reserved, layer..volume..reserved
    struct.pack_into(">9i", data, matrix, 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


def record_of(fields: dict):
    """A video's record (batch/record.py) from the fields of its log line: the tests' shorthand."""
    from evs_cli.batch.record import VideoRecord

    f = dict(fields)
    return VideoRecord(f.pop("input", ""), f.pop("output", ""), f.pop("status"), **f)
