"""What a compile cache may be trusted with. Inductor reads its FX-graph cache with pickle and loads the
shared libraries it built, so a file put into the cache runs code in the next --compile run. evs therefore
keeps a manifest of the entries it wrote (each file's SHA-256), signed with HMAC-SHA256 under a key that only
the user can read (mode 600, outside the cache: $XDG_CONFIG_HOME/evs/compile-cache.key, or the file
EVS_COMPILE_CACHE_KEY names), checks it before PyTorch reads the cache, and updates it after compiling.
Whatever evs did not write (an entry added, replaced or corrupted since, or every entry when the manifest's
signature fails) is removed before PyTorch sees it, and compiled again.

A cache folder that other users can write is refused, unless the key was named on purpose
(EVS_COMPILE_CACHE_KEY): a team sharing a cache shares the key, and with it the trust.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path

from ...errors import EvsError

KEY_ENV = "EVS_COMPILE_CACHE_KEY"
MANIFEST, LOCK = "evs-manifest.json", ".evs-manifest.lock"


def key_path() -> Path:
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "evs" / "compile-cache.key"


def load_key() -> bytes:
    """The user's key, made on first use (mode 600); one that others can read or that another user owns is
    refused, since whoever can read it can sign entries."""
    path = key_path()
    if not path.exists() and not os.environ.get(KEY_ENV):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        except FileExistsError:
            pass  # another process made it meanwhile
        except OSError as e:
            raise EvsError(f"compile cache key {path}: cannot create it ({e.strerror or e})") from None
    try:
        st = os.stat(path)
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise EvsError(f"compile cache key {path}: other users can read it (mode {stat.S_IMODE(st.st_mode):o}, "
                           f"owner uid {st.st_uid}); it signs what --compile runs: chmod 600 it, as its owner")
        key = path.read_bytes().strip()
    except OSError as e:
        raise EvsError(f"compile cache key {path}: cannot read it ({e.strerror or e})") from None
    if len(key) < 32:
        raise EvsError(f"compile cache key {path}: too short to sign with (at least 32 characters)")
    return key


def others_can_write(folder: Path) -> str | None:
    """Why other users could put files into `folder` (or an existing folder it would be made in), or None."""
    existing = Path(folder).expanduser().absolute()
    while not existing.exists():
        existing = existing.parent
    st = os.stat(existing)
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return f"{existing} can be written by every user (mode {stat.S_IMODE(st.st_mode):o})"
    if os.environ.get(KEY_ENV):  # a team's key, named on purpose: the group shares the cache and its trust
        return None
    if existing != Path(folder).expanduser().absolute() and st.st_mode & stat.S_ISVTX:
        return None  # /tmp: the cache folder made in it is the user's own (mode 755)
    if st.st_uid != os.getuid():
        return f"{existing} belongs to another user (uid {st.st_uid})"
    if st.st_mode & stat.S_IWGRP:
        return f"{existing} can be written by its group (mode {stat.S_IMODE(st.st_mode):o})"
    return None


@contextmanager
def _locked(folder: Path):
    """One process at a time checks or signs a cache (several workers, or nodes over NFS, share one)."""
    fd = os.open(folder / LOCK, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _entries(folder: Path):
    """(relative path, path, lstat) of every entry but the manifest and its lock."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if rel not in (MANIFEST, LOCK):
                yield rel, path, os.lstat(path)


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sign(key: bytes, files: dict) -> str:
    return hmac.new(key, json.dumps(files, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def _read_manifest(folder: Path, key: bytes) -> dict[str, str]:
    """The entries the manifest vouches for: none when it is missing, unreadable or its signature fails."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
        if isinstance(files, dict) and hmac.compare_digest(str(data["mac"]), _sign(key, files)):
            return files
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {}


def verify(folder: Path, key: bytes) -> list[str]:
    """Remove every entry the signed manifest does not vouch for, before PyTorch reads the cache; returns them."""
    removed = []
    with _locked(folder):
        trusted = _read_manifest(folder, key)
        for rel, path, st in list(_entries(folder)):
            if stat.S_ISREG(st.st_mode) and trusted.get(rel) == _sha(path):
                continue
            path.unlink(missing_ok=True)
            removed.append(rel)
    return removed


def seal(folder: Path, key: bytes) -> None:
    """Sign what the cache holds now: this process's compiles, and what the manifest already vouched for (a
    signed entry is hashed again only if it changed after the manifest was written)."""
    with _locked(folder):
        trusted = _read_manifest(folder, key)
        try:
            signed_at = os.stat(folder / MANIFEST).st_mtime_ns
        except OSError:
            signed_at = -1
        present = {}
        for rel, path, st in _entries(folder):
            if stat.S_ISREG(st.st_mode):
                present[rel] = trusted[rel] if rel in trusted and st.st_mtime_ns < signed_at else _sha(path)
        tmp = folder / f"{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"files": present, "mac": _sign(key, present)}), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)
