"""Where torch.compile keeps what it compiled, so that its warm-up is paid once per machine, not per process.

Inductor already caches each compiled graph (its FX graph cache, and AOTAutograd's beside it) under a key
made of the graph, its input shapes and dtypes, the inductor config and the device; a hit skips code
generation and the C++/Triton build. By default that cache lives in /tmp, which a container, a reboot or a
requeued cluster job loses. We point it at a lasting folder, one subfolder per torch build, Python and
device model, so that a cache shared over NFS by nodes of several kinds never offers one kind's kernels to
another (inductor's own key would refuse most, but we do not rely on that), and another video size is simply
a new entry beside the old. What the cache may be trusted with, and how evs checks it: cache_trust.py.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import platform
import re
import sys
from pathlib import Path

from ...errors import EvsError
from .cache_trust import load_key, others_can_write, seal, verify

ENV = "TORCHINDUCTOR_CACHE_DIR"  # inductor reads it at every cache access: set before the first compile


def default_root() -> Path:
    """$XDG_CACHE_HOME/evs/compile, else ~/.cache/evs/compile."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evs" / "compile"


def unusable(root: Path) -> str | None:
    """Why a cache folder could not be made or written at `root`, checked before any model loads; None if it can."""
    existing = Path(root).expanduser().absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} cannot be written (permission denied or a read-only filesystem)"
    return others_can_write(root)


def device_model(device) -> str:
    """What the compiled code was built for: the GPU's name and compute capability, or the CPU's model."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        backend = f"hip{torch.version.hip}" if torch.version.hip else f"cuda{torch.version.cuda}"
        return f"{torch.cuda.get_device_name(device)} sm{major}{minor} {backend}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{device.type} {platform.machine()} {model}"


def machine_key(device) -> str:
    """A folder name for this torch build, Python and device model: readable, with a hash of the full text."""
    import torch

    py, where = f"{sys.version_info[0]}{sys.version_info[1]}", device_model(device)
    text = f"torch {torch.__version__} | python {py[0]}.{py[1:]} | {where}"
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"torch{torch.__version__}-py{py}-{where}").strip("-")[:80]
    return f"{slug}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


_SIGNED: dict[Path, bytes] = {}  # the caches this process uses, signed again after each video and at exit


def seal_compile_caches() -> None:
    """Sign what this process compiled so far (a run killed later keeps it)."""
    for folder, key in _SIGNED.items():
        seal(folder, key)


def use_compile_cache(root: Path | None, device) -> Path:
    """Make inductor keep its caches under `root`/<machine key> and return that folder. root None: a
    TORCHINDUCTOR_CACHE_DIR the user set is kept as it is, else default_root(). Call before the first
    compiled call of the process."""
    if root is None and os.environ.get(ENV):
        folder = Path(os.environ[ENV])
    else:
        folder = Path(root or default_root()).expanduser() / machine_key(device)
    if why := others_can_write(folder):
        raise EvsError(f"compile cache {folder}: {why}; other users could put code into it that --compile runs")
    try:
        folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as e:
        raise EvsError(f"compile cache {folder}: cannot create it ({e.strerror or e})") from None
    key = load_key()
    verify(folder, key)  # before PyTorch reads anything there: what evs did not write goes
    if folder not in _SIGNED:
        _SIGNED[folder] = key
        atexit.register(seal, folder, key)
    os.environ[ENV] = str(folder.resolve())
    import torch._inductor.config as inductor

    inductor.fx_graph_cache = True  # the default today; set so that a changed default does not silently cost a warm-up
    return folder
