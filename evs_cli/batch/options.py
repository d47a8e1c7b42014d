"""What a run was asked to do, grouped by concern, as the command line parsed it.

`RunOptions` is what every worker needs to refine a video the same way in another process or on another
node (picklable); `Request` adds what only the driver needs: the inputs, where results and logs go, and how
the work is spread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Format(str, Enum):
    MP4 = "mp4"  # H.264, yuv420p
    PNG = "png"  # a folder of lossless frames


class Resume(str, Enum):
    SAME = "same"  # skip outputs made with this run's settings; fail those made otherwise
    ANY = "any"  # skip every existing output


@dataclass(frozen=True)
class OutputPolicy:
    """What each output is and when an existing one is redone."""

    fmt: str = "mp4"
    crf: int = 17
    scale: float | None = None  # output = input size x scale (default 1: the input's size)
    size: tuple[int, int] | None = None  # output size (W, H), instead of scale
    overwrite: bool = False
    resume: str = "same"
    evaluate: bool = False  # add weight-free metrics of each output to its record

    @property
    def even_sides(self) -> bool:
        return self.fmt == "mp4"  # H.264 yuv420p needs even sides


@dataclass(frozen=True)
class Limits:
    """What a video may cost before it is refused, and how claims on outputs shared with other runs behave."""

    max_pixels: int = 4 * 2**20  # working frame size (after resize) above which a video is refused
    max_memory: int | None = None  # bytes a video may need (None: what the host and the device have free)
    lease: float = 180.0  # claims.DEFAULT_LEASE
    wait: bool = False  # for videos another live run holds, instead of leaving them to it


@dataclass(frozen=True)
class Prompts:
    """Where a video's prompt comes from: one for all, else the table, else sidecar or file name (io.prompts)."""

    text: str | None = None
    table: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Seeds:
    base: int = 0
    per_video: bool = True  # derive each video's seed from `base` and its relative path

    def for_video(self, rel: Path) -> int:
        return video_seed(self.base, rel) if self.per_video else self.base


def video_seed(seed: int, rel: Path) -> int:
    """A seed of its own for each video: stable across runs, machines and listing order (no hash())."""
    digest = hashlib.sha256(f"{seed}:{rel.as_posix()}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: what torch.Generator.manual_seed takes


@dataclass(frozen=True)
class RunOptions:
    """Everything a worker needs to rebuild the same refiner in another process (picklable)."""

    preset: object  # engine.preset.Preset, overrides applied
    output: OutputPolicy = OutputPolicy()
    limits: Limits = Limits()
    prompts: Prompts = Prompts()
    seeds: Seeds = Seeds()
    pipelined: bool = True  # read the next video and write the last one while the device refines (stream.py)
    compile_cache: Path | None = None  # with runtime.compile: where compiled graphs last (engine.compile_cache)


@dataclass(frozen=True)
class Execution:
    """Where the work runs: local workers, one per device, or actors on a Ray cluster."""

    devices: tuple[str, ...] = ()  # empty: every visible GPU, else the CPU
    ray: bool = False
    ray_address: str | None = None
    ray_workers: int | None = None


@dataclass(frozen=True)
class Request:
    """One `evs refine` invocation, parsed."""

    inputs: tuple[str, ...]  # files, folders, globs, as given on the command line
    options: RunOptions
    out: Path | None = None
    shard: tuple[int, int] | None = None  # K of N
    execution: Execution = Execution()
    log: Path | None = None
    quiet: bool = False
    listed: tuple[str, ...] = ()  # paths read from stdin (-) and --from: files keep their path below `base`
    base: Path | None = None
