"""Joining a Ray cluster the way Ray itself would choose it, and failing in seconds, with one line, where Ray
would retry a dead address for minutes."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from ...errors import EvsError, first_line

PASSED_ENV = ("HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_OFFLINE", "DIFFUSERS_VERBOSITY",
              "TRANSFORMERS_VERBOSITY")  # what the driver's user set for model loading holds on every node

def require_ray():
    try:
        import ray
    except ImportError:
        raise EvsError("--ray needs Ray, an optional extra: pip install 'evs_cli[ray]'") from None
    return ray


def connect(address: str | None) -> None:
    """Ray's own order: ADDRESS, else RAY_ADDRESS, else the cluster `ray start` left on this machine, else a
    new local instance."""
    ray = require_ray()
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    target, source = _where(address)
    if target and target not in ("auto", "local") and not target.startswith("ray://") and not _answers(target):
        raise EvsError(f"--ray: no Ray cluster answers at {target} ({source}); start one with `ray start --head`"
                       + (", or remove that stale file" if source.endswith("ray_current_cluster") else ""))
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                 runtime_env={"env_vars": env} if env else None)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = address or os.environ.get("RAY_ADDRESS") or "the local cluster"
        raise EvsError(f"--ray: cannot connect to {where}: {first_line(e)}") from None


def _where(address: str | None) -> tuple[str | None, str]:
    """The address ray.init would use, and where it comes from (None: Ray starts a local instance)."""
    if address:
        return address, "--ray-address"
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    current = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
    try:
        return current.read_text().strip() or None, str(current)
    except OSError:
        return None, ""


def _answers(address: str, timeout: float = 5.0) -> bool:
    """Whether something listens at host:port. ray.init retries a dead address for minutes (a cluster
    killed without `ray stop` leaves its address in ray_current_cluster); this fails in seconds instead."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return True  # not host:port: let Ray interpret it
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False
