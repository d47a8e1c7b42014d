"""Where the models come from, checked without loading them or importing torch: hub ids, local diffusers
folders and single files (`evs:` names models shipped in the package), the checks run before any model
loads, the T2I model's own scheduler config, and the one line a hub failure becomes.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import threading
from pathlib import Path
from urllib.parse import urlparse

from ...errors import EvsError, EvsErrors, first_line, read_text
from ..options import WEIGHT_SUFFIXES

SD15_CONFIG = Path(__file__).parent.parent / "configs" / "sd15"  # engine/configs: SD1.5's own, shipped
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # evs_cli/, where "evs:" sources live
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w./-]+)?$")
PACKAGE_PREFIX = "evs:"  # models shipped inside the package, e.g. evs:toy/models/t2i


def resolve_source(source: str) -> str:
    if source.startswith(PACKAGE_PREFIX):
        return str(PACKAGE_ROOT / source[len(PACKAGE_PREFIX):])
    return source


def source_kind(source: str) -> str:
    p = Path(source).expanduser()
    if p.is_file():
        return "file"
    if p.is_dir():
        return "folder"
    if HUB_ID.match(source):
        return "hub"
    return "missing"


def hf_cache() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        return str(HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return "~/.cache/huggingface/hub"


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def hub_error(what: str, source: str, err: Exception) -> EvsError:
    if hub_offline():
        return EvsError(f"{what} {source!r} is not in the Hugging Face cache ({hf_cache()}), and HF_HUB_OFFLINE "
                        "forbids downloading it: unset HF_HUB_OFFLINE once to download it, or pass a local "
                        "folder or file")
    first = first_line(err)
    return EvsError(f"{what} {source!r}: not a local file or folder, and the hub id could not be loaded "
                    f"from the Hugging Face hub or cache ({first})")


def check_t2i_source(source: str) -> str:
    """What can be known of a T2I source before loading it (run before any model loads); returns its kind."""
    kind = source_kind(source)
    if kind == "missing":
        raise EvsError(f"T2I model {source!r} not found: no such file or folder, and not a hub id (owner/name)")
    if kind == "file" and not source.endswith(WEIGHT_SUFFIXES):
        raise EvsError(f"T2I model {source!r}: a single-file checkpoint must end in .safetensors or .ckpt")
    if kind == "folder":
        for sub in ("unet", "vae", "text_encoder", "scheduler"):
            if not (Path(source) / sub).is_dir():
                raise EvsError(f"T2I model {source!r}: not a diffusers folder (no {sub}/ inside)")
    return kind


def check_t2v_source(source: str) -> str:
    """What can be known of a motion adapter source before loading it; returns its kind."""
    kind = source_kind(source)
    if kind == "missing":
        raise EvsError(f"T2V motion adapter {source!r} not found: no such file or folder, and not a hub id")
    if kind == "folder":
        if not (Path(source) / "config.json").is_file():
            raise EvsError(f"T2V motion adapter {source!r}: folder has no config.json")
        check_adapter_config(Path(source) / "config.json")
    if kind == "file" and (Path(source).parent / "config.json").is_file():
        check_adapter_config(Path(source).parent / "config.json")
    return kind


def check_vae_source(source: str) -> str:
    """An external VAE (--vae): a diffusers AutoencoderKL folder (or a model folder with vae/), a hub id, or a
    single file such as vae-ft-mse-840000-ema-pruned.safetensors; returns its kind."""
    kind = source_kind(source)
    if kind == "missing":
        raise EvsError(f"VAE {source!r} not found: no such file or folder, and not a hub id (owner/name)")
    if kind == "file" and not source.endswith(WEIGHT_SUFFIXES):
        raise EvsError(f"VAE {source!r}: a single-file VAE must end in {', '.join(WEIGHT_SUFFIXES)}")
    if kind == "folder" and not any((Path(source) / sub / "config.json").is_file() for sub in ("", "vae")):
        raise EvsError(f"VAE {source!r}: not a diffusers VAE folder (no config.json, nor vae/config.json)")
    what = _what_vae_source_is(Path(source), kind)
    if what is not None:
        raise EvsError(f"VAE {source!r}: {what}, not an AutoencoderKL (--vae takes an SD VAE"
                       + ("; a motion adapter goes to --t2v)" if what in _MOTION else ")"))
    return kind


_MOTION = ("its config.json describes a MotionAdapter", "a motion module's weights")


def _what_vae_source_is(source: Path, kind: str) -> str | None:
    """What a --vae source is when it is plainly something else (as the loader would read it), else None."""
    if kind == "folder":
        cfg = source / "vae" / "config.json"
        cfg = cfg if cfg.is_file() else source / "config.json"
        try:
            config = json.loads(read_text(cfg, "the VAE config"))
        except ValueError as e:
            raise EvsError(f"{cfg}: not valid JSON ({e})") from None
        kind_named = config.get("_class_name", "AutoencoderKL") if isinstance(config, dict) else "JSON that is not an object"
        if kind_named != "AutoencoderKL":
            return f"its config.json describes a {kind_named}"
    if kind == "file" and source.suffix == ".safetensors":
        if any(".motion_modules." in k for k in safetensors_shapes(source)):
            return "a motion module's weights"
    return None


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape from a .safetensors file's JSON header, reading nothing else (no torch)."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n)) if n < 100 * 2**20 else {}
        return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return {}


def local_scheduler_config(t2i: str) -> dict:
    """The T2I model's scheduler config when it can be read without loading anything (a local diffusers
    folder), else SD1.5's: what the preset's scheduler settings are tried on before the models load."""
    source = resolve_source(t2i)
    found = Path(source) / "scheduler" / "scheduler_config.json"
    if not (source_kind(source) == "folder" and found.is_file()):
        found = SD15_CONFIG / "scheduler" / "scheduler_config.json"
    path = found
    try:
        config = json.loads(read_text(path, "the scheduler config", EvsError))
    except json.JSONDecodeError as e:
        raise EvsError(f"{path}: the scheduler config is not JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(config, dict):
        raise EvsError(f"{path}: the scheduler config is not a JSON object")
    return config


def tokenizer_words(t2i: str, tokenizer: str | None = None) -> frozenset[str] | None:
    """The words a local tokenizer holds as whole tokens (CLIP's `word</w>`, two letters or more: single
    letters are every byte-level vocabulary's alphabet, not words it learnt), read without loading anything;
    None when the tokenizer is not a local folder (a hub id, a single file)."""
    for source, below in ((tokenizer, ""), (t2i, "tokenizer")):
        if source is None:
            continue
        folder = Path(resolve_source(source))
        vocab = folder / below / "vocab.json"
        if source_kind(str(folder)) == "folder" and vocab.is_file():
            try:
                tokens = json.loads(read_text(vocab, "the tokenizer's vocabulary", EvsError))
            except (json.JSONDecodeError, EvsError):
                return None  # loading it later says what is wrong with it
            return frozenset(t[:-4] for t in tokens if isinstance(t, str) and t.endswith("</w>")
                             and len(t) > 5 and t[:-4].isalpha()) if isinstance(tokens, dict) else None
        return None
    return None


def prompts_without_known_words(prompts: list[str], words: frozenset[str]) -> list[str]:
    """The prompts none of whose words the tokenizer knows (as CLIP reads them: lower case, letters)."""
    return [p for p in dict.fromkeys(prompts) if not words.intersection(re.findall(r"[a-z]+", p.lower()))]


def unknown_words_note(t2i: str, tokenizer: str | None, prompts: list[str | None]) -> list[str]:
    """One note when some prompt has no word the T2I model's tokenizer knows (the toy models know a few dozen):
    such a model paints what it was trained on, and the metrics cannot tell."""
    words = tokenizer_words(t2i, tokenizer)
    strange = prompts_without_known_words([p for p in prompts if p], words) if words else []
    if not strange:
        return []
    known = sorted(words)
    shown = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
    return [f"the T2I model knows none of the words of {len(strange)} prompt{'s' * (len(strange) > 1)} "
            f"(first: {strange[0]!r}); it will paint what it was trained on, whatever the metrics say. "
            f"Words it knows: {shown}"]


# A file each kind of hub model has once it was downloaded (diffusers reads it first).
_HUB_MARKERS = {"T2I model": ("unet/config.json",), "T2V motion adapter": ("config.json",),
                "VAE": ("config.json", "vae/config.json"), "tokenizer": ("tokenizer/vocab.json",)}


def model_roles(t2i: str, t2v: str, vae: str | None = None,
                tokenizer: str | None = None) -> list[tuple[str, str | None]]:
    """(what, source) of a model set, as `uncached` and `check_downloadable` take them."""
    return [("T2I model", t2i), ("T2V motion adapter", t2v), ("VAE", vae), ("tokenizer", tokenizer)]


def uncached(models: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """(what, hub id) of the hub models among (what, source) that the Hugging Face cache does not hold (a
    `repo:file` source: that file), looked up on disk only."""
    from huggingface_hub import try_to_load_from_cache

    missing = []
    for what, source in models:
        if not source or source_kind(resolve_source(source)) != "hub":
            continue
        repo, _, filename = source.partition(":")
        if not any(isinstance(try_to_load_from_cache(repo, name), str) for name in
                   ((filename,) if filename else _HUB_MARKERS[what])):
            missing.append((what, source))
    return missing


def hub_host() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host takes a connection within `timeout` seconds; a name that does not resolve, or no
    route, is a no in that time (the lookup runs on a thread of its own, which is left behind if it hangs)."""
    answer: list[bool] = []

    def probe():
        try:
            socket.create_connection(hub_host(), timeout=timeout).close()
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(answer and answer[0])


def check_downloadable(models: list[tuple[str, str | None]]) -> None:
    """Before any model loads: every hub model is in the cache, or the hub can be reached to download it now;
    else EvsErrors naming each missing model (all of them, not the first), in seconds instead of the hub
    library's minute of retries."""
    missing = uncached(models)
    if not missing:
        return
    if hub_offline():
        why = "HF_HUB_OFFLINE forbids downloading it: unset HF_HUB_OFFLINE once to download it"
    elif not hub_reachable():
        why = f"{hub_host()[0]} cannot be reached to download it: connect once to download it"
    else:
        return
    raise EvsErrors([f"{what} {source!r} is not in the Hugging Face cache ({hf_cache()}), and {why}, or pass a "
                     "local folder or file" for what, source in missing])


def check_sources(t2i: str, t2v: str, vae: str | None = None) -> None:
    """The models' local paths, checked before any model loads (hub ids are checked when loaded); whether they
    fit each other: fit.check_models."""
    check_t2i_source(resolve_source(t2i))
    check_t2v_source(resolve_source(t2v))
    if vae:
        check_vae_source(resolve_source(vae))


def check_adapter_config(cfg_file: Path) -> dict:
    """The config of a MotionAdapter, not of another model (diffusers would build an adapter from a UNet's
    config, with no weights to fill it, and fail later with a meta-tensor error)."""
    try:
        config = json.loads(read_text(cfg_file, "the model config"))
    except ValueError as e:
        raise EvsError(f"{cfg_file}: not valid JSON ({e})") from None
    kind = config.get("_class_name", "MotionAdapter") if isinstance(config, dict) else type(config).__name__
    if kind != "MotionAdapter":
        raise EvsError(f"T2V motion adapter {cfg_file.parent}: its config.json describes a {kind}, not a "
                       "MotionAdapter (--t2v takes an AnimateDiff motion adapter; the T2I model goes to --t2i)")
    return config
