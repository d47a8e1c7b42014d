"""Video in and out: decode frames (decord when installed, else PyAV), write H.264 MP4 or PNGs, and the
working size a video is refined at."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..errors import EvsError, first_line


@dataclass
class Video:
    frames: torch.Tensor  # uint8 (F, H, W, 3)
    fps: Fraction
    has_audio: bool = False
    variable_rate: bool = False  # frames not evenly spaced in time (phones, screen recorders): written at `fps`

    @property
    def size(self) -> tuple[int, int]:  # (width, height)
        return int(self.frames.shape[2]), int(self.frames.shape[1])


def read_video(path: Path) -> Video:
    path = Path(path)
    if not path.is_file():
        raise EvsError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise EvsError(f"{path}: empty file")
    try:
        video = _read_av(path, frames=path.suffix.lower() == ".gif" or not _has_decord())
        if video.frames is None:
            try:
                video.frames = _read_decord(path)
            except Exception:  # noqa: BLE001 - a live-stream WebM/MKV (no duration) and others decord refuses
                video = _read_av(path)  # PyAV decodes what it probed; its own error, if any, is the one we say
        if video.frames.shape[0] == 0:
            raise EvsError(f"{path}: no video frames")
        return video
    except EvsError:
        raise
    except Exception as e:  # noqa: BLE001 - any decoder failure is one line about this file
        raise EvsError(f"{path}: cannot decode video: {_in_plain_words(_first_line(e))}") from e


# What the decoders say, in a user's words (the decoder's own text follows in parentheses).
_PLAIN = (
    (r"Invalid data found when processing input", "not a video file, or its header is damaged or cut off"),
    (r"End of file", "the file is truncated (it ends before its video data does)"),
    (r"avcodec_send_packet|Error sending packet|decoding MB|NAL unit", "damaged video data inside the file"),
    (r"moov atom not found", "the file is truncated (its index is missing: an interrupted recording or copy)"),
    (r"[Ii]nvalid argument", "the decoder rejected the file"),
)


def _in_plain_words(text: str) -> str:
    for pattern, words in _PLAIN:
        if re.search(pattern, text):
            return f"{words} ({text})"
    return text


def _first_line(e: Exception) -> str:
    s = first_line(e)
    s = re.sub(r"^\[Errno -?\d+\] ", "", s)  # FFmpeg's errno adds nothing for a user
    # decord's check text: "[12:00:00] /src/.../threaded_decoder.cc:218: Check failed: expr (a vs. b) Message."
    s = re.sub(r"(\[[\d:]+\] \S+\.cc:\d+: )+", "", s)
    s = re.sub(r"^Check failed: .*? \(-?\d+ vs\. -?\d+\) (Thread worker: )?", "", s)
    return re.sub(r": '[^']*'$", "", s)  # the file is already named at the start of the line


def _has_decord() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def _read_decord(path: Path) -> torch.Tensor:
    """decord decodes MP4/MKV/WebM faster than PyAV; PyAV still reads the metadata and GIFs."""
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # FFmpeg's own lines would precede our one-line error
    vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
    return torch.from_numpy(vr.get_batch(list(range(len(vr)))).asnumpy())


def _read_av(path: Path, frames: bool = True) -> Video:
    import av

    with av.open(str(path)) as c:
        if not c.streams.video:
            raise EvsError(f"{path}: no video stream")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(8)
        has_audio = bool(c.streams.audio)
        if not frames:
            # Probe one frame so that a file PyAV cannot decode fails here with PyAV's message.
            next(c.decode(stream), None)
            c.seek(0)
            return Video(None, Fraction(rate), has_audio, _variable_rate(c.demux(stream)))
        decoded, times, turn = [], [], 0
        for f in c.decode(stream):
            decoded.append(f.to_ndarray(format="rgb24"))
            times.append(f.pts)
            turn = int(getattr(f, "rotation", 0) or 0) // 90  # a phone's display matrix, as decord applies it
    if not decoded:
        raise EvsError(f"{path}: no video frames")
    frames = np.stack(decoded)
    if turn % 4:
        frames = np.ascontiguousarray(np.rot90(frames, turn, axes=(1, 2)))
    return Video(torch.from_numpy(frames), Fraction(rate), has_audio, _uneven(times))


def _variable_rate(packets) -> bool:
    return _uneven([p.pts for p in packets if p.size])


def _uneven(times: list) -> bool:
    """Whether frame times are unevenly spaced: some gap over 1.5 times another (timestamps rounded to the
    container's clock stay even)."""
    if any(t is None for t in times) or len(times) < 3:
        return False
    gaps = np.diff(np.sort(np.array(times, dtype=np.float64)))
    gaps = gaps[gaps > 0]
    return len(gaps) > 1 and gaps.max() > 1.5 * gaps.min() + 1


@dataclass
class Header:
    """What a container says of its first video stream, read without decoding."""

    width: int
    height: int
    frames: int | None  # counted by the muxer, else duration x rate; None if neither is known


def probe(path: Path) -> Header | None:
    """The header of `path`'s video stream; None if the file cannot be probed (read_video then says why)."""
    try:
        import av

        with av.open(str(path)) as c:
            s = c.streams.video[0]
            if not s.codec_context.width:
                return None
            frames = int(s.frames) or None
            if frames is None and s.duration and s.time_base and s.average_rate:
                frames = int(round(float(s.duration * s.time_base * s.average_rate)))
            elif frames is None and c.duration and s.average_rate:
                frames = int(round(c.duration / 1e6 * float(s.average_rate)))  # container duration: microseconds
            elif frames is None:  # recorded as a live stream (MediaRecorder, OBS, ffmpeg to a pipe): count packets
                frames = sum(1 for p in c.demux(s) if p.size)
            return Header(int(s.codec_context.width), int(s.codec_context.height), frames)
    except Exception:  # noqa: BLE001 - reading is where a bad file gets its one-line error
        return None


def target_size(width: int, height: int, scale: float, multiple: int = 64) -> tuple[int, int]:
    """Scale, then round each side to the nearest multiple of 64 (at least 64): the UNet needs it."""
    def side(s):
        return max(multiple, int(round(s * scale / multiple)) * multiple)
    return side(width), side(height)


def output_size(width: int, height: int, scale: float | None = None, size: tuple[int, int] | None = None,
                even: bool = True) -> tuple[int, int]:
    """The size a result is written at: `size` if given, else the input's times `scale` (default 1), so the
    input's aspect ratio is kept. H.264 in yuv420p needs even sides, so with `even` an odd side is rounded
    down to the next even number (a 101x71 clip comes back 100x70)."""
    w, h = size if size else (round(width * (scale or 1.0)), round(height * (scale or 1.0)))
    if even:
        w, h = w - w % 2, h - h % 2
    return max(2, w), max(2, h)


# Audio codecs every MP4 player and browser plays: copied as they are; any other (Vorbis, Opus, PCM, FLAC from
# a WebM, MKV or MOV input) is re-encoded to AAC at the input's sample rate and channel layout.
MP4_AUDIO = ("aac", "mp3")


def write_mp4(frames: torch.Tensor, path: Path, fps: Fraction, crf: int = 17, audio_from: Path | None = None,
              comment: str | None = None) -> str:
    """H.264 yuv420p at the given fps, with the audio of `audio_from` if it has any; `comment` in the
    container's comment tag (evs records what made the output there). Returns what became of the audio:
    "none", "copied (aac)", "re-encoded to AAC (from opus)"."""
    import av

    arr = frames.numpy()
    # Opened here without following a symlink (the batch creates `path` exclusively first), then handed to
    # FFmpeg as a file: what is written is the file that was created.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f, av.open(f, mode="w", format="mp4") as out:
        if comment:
            out.metadata["comment"] = comment
        v = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        v.width, v.height, v.pix_fmt = arr.shape[2], arr.shape[1], "yuv420p"
        v.options = {"crf": str(crf), "preset": "medium"}
        src = av.open(str(audio_from)) if audio_from is not None else None
        try:
            a_in = src.streams.audio[0] if src is not None and src.streams.audio else None
            codec = a_in.codec_context.name if a_in is not None else None
            copy = codec in MP4_AUDIO
            a_out = None if a_in is None else out.add_stream_from_template(a_in) if copy else _aac_like(out, a_in)
            for img in arr:
                for pkt in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(pkt)
            for pkt in v.encode():
                out.mux(pkt)
            if a_in is None:
                return "none"
            if copy:
                for pkt in src.demux(a_in):
                    if pkt.dts is None:
                        continue
                    pkt.stream = a_out
                    out.mux(pkt)
                return f"copied ({codec})"
            _reencode(src, a_in, out, a_out)
            return f"re-encoded to AAC (from {codec})"
        finally:
            if src is not None:
                src.close()


def _aac_like(out, a_in):
    a = out.add_stream("aac", rate=a_in.codec_context.sample_rate)
    a.layout = a_in.codec_context.layout
    return a


def _reencode(src, a_in, out, a_out) -> None:
    """Decode, resample to what the AAC encoder takes (planar float, same rate and layout), encode."""
    import av

    ctx = a_in.codec_context
    resampler = av.AudioResampler(format="fltp", layout=ctx.layout, rate=ctx.sample_rate)
    for frame in src.decode(a_in):
        frame.pts = None  # the encoder times the samples itself, from the first one
        for piece in resampler.resample(frame):
            for pkt in a_out.encode(piece):
                out.mux(pkt)
    for piece in resampler.resample(None):
        for pkt in a_out.encode(piece):
            out.mux(pkt)
    for pkt in a_out.encode(None):
        out.mux(pkt)


def write_pngs(frames: torch.Tensor, folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(frames.numpy()):
        Image.fromarray(img).save(folder / f"{i:05d}.png", optimize=False, compress_level=3)
