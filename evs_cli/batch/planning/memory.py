"""Will a video fit? The memory a refinement needs, estimated from the container header before decoding,
checked against what this machine (or its cgroup: a SLURM job, a container) and the device have left.

A video that cannot fit fails alone with a line that says so; without this check the kernel's OOM killer
ends the whole run, silently, and the rest of the folder is never reached.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import EvsError

# Latent-sized float32 tensors alive at once: the clean latents, the noisy ones, the model output, the noise
# drawn ahead for the SDEdit stages, SFI's recorded features per window; counted generously.
LATENT_COPIES = 12
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int | None:
    """'auto' -> None (what is available); '512M', '8G', '8GiB', '1.5T', '1000000' -> bytes."""
    if text.strip().lower() == "auto":
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGTkmgt]?)(?:[iI]?[bB])?\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise EvsError(f"--max-memory must be auto or a size such as 512M or 8G, got {text!r}")
    return int(float(m.group(1)) * UNITS[m.group(2).upper()])


def host_available() -> int | None:
    """Bytes this process may still allocate: the smaller of the kernel's MemAvailable and what each memory
    cgroup above this process leaves (its own, as /proc/self/cgroup names it, and their parents: a SLURM
    job's step, a container); None where none of these can be read (not Linux)."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    for folder, limit_name, usage_name in _cgroup_folders():
        try:
            limit = (folder / limit_name).read_text().strip()
            if limit != "max" and int(limit) < 2**60:  # v1 writes "no limit" as a huge number
                found.append(max(0, int(limit) - int((folder / usage_name).read_text())))
        except (OSError, ValueError):
            continue
    return min(found) if found else None


def _cgroup_folders():
    """(folder, limit file, usage file) of this process's memory cgroup and each of its ancestors."""
    root = Path("/sys/fs/cgroup")
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2, one unified hierarchy
            base, files = root, ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            base, files = root / "memory", ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        folder = base / path.lstrip("/")
        while True:
            yield (folder, *files)
            if folder == base:
                break
            folder = folder.parent


def device_available(device: str) -> int | None:
    """Free bytes on a CUDA device (the models already loaded); None for the CPU (host memory counts)."""
    if not device.startswith("cuda"):
        return None
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return int(free)


def needs(frames: int, in_size, working, out_size) -> tuple[int, int]:
    """(host bytes, device bytes) that refining `frames` frames takes beyond the loaded models: on the host
    the decoded input and the refined output (twice: the frames and the encoder's copy); on the device the
    latents and the decoded output, gathered there before one copy back. Chunked work (VAE, T2I batches,
    T2V windows) is bounded by the engine and not counted."""
    (wi, hi), (ww, hw), (wo, ho) = in_size, working, out_size
    host = frames * (wi * hi * 3 + 2 * wo * ho * 3)
    device = frames * (LATENT_COPIES * 4 * (ww // 8) * (hw // 8) * 4 + wo * ho * 3)
    return host, device


def _gb(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def check_memory(path: Path, frames: int | None, in_size, working, out_size, limit: int | None,
                 device: str | None) -> None:
    """Refuse a video whose estimated need exceeds `limit` (--max-memory), or, without one, what the host and
    the device have free now (device None: the host's part only, as a dry run knows no device). Unknown
    frame counts are not guessed at."""
    if not frames:
        return
    host, dev = needs(frames, in_size, working, out_size)
    on_cuda = device is None or device.startswith("cuda")
    total = host + (0 if on_cuda else dev)  # on the CPU both live in host memory
    what = f"{frames} frames of {in_size[0]}x{in_size[1]} (refined at {working[0]}x{working[1]})"
    if limit is not None:
        if total > limit:
            raise EvsError(f"{path}: {what} need about {_gb(total)} of memory, over --max-memory {_gb(limit)}; "
                           "split the video, --resize down, or raise --max-memory")
        return
    free = host_available()
    if free is not None and total > free:
        raise EvsError(f"{path}: {what} need about {_gb(total)} of memory, {_gb(free)} is available; split "
                       "the video, --resize down, or free memory (--max-memory overrides this check)")
    free_dev = device_available(device) if device else None
    if free_dev is not None and dev > free_dev:
        raise EvsError(f"{path}: {what} need about {_gb(dev)} on {device}, {_gb(free_dev)} is free there; split "
                       "the video or --resize down")


def check_fits(path: Path, options, device: str | None = None):
    """Refuse, from the container header and before decoding, a video too large to refine: frames over
    --max-pixels (an 8192x8192 clip), or more frames than memory holds (check_memory). `options`: RunOptions."""
    from ...io.video import output_size, probe, target_size

    head = probe(path)
    if head is None:
        return None
    limits, out = options.limits, options.output
    w, h = target_size(head.width, head.height, options.preset.resize)
    if w * h > limits.max_pixels:
        raise EvsError(f"{path}: frames of {head.width}x{head.height} would be refined at {w}x{h} ({w * h / 1e6:.1f} "
                       f"megapixels), over --max-pixels {limits.max_pixels}; raise it, or --resize down")
    size = output_size(head.width, head.height, out.scale, out.size, even=out.even_sides)
    check_memory(path, head.frames, (head.width, head.height), (w, h), size, limits.max_memory, device)
    return head
