"""A motion module's weights file, in any layout the AnimateDiff community ships, read into a diffusers
MotionAdapter whose shape comes from the weights themselves.

Layouts:
  * diffusers' (``MotionAdapter.save_pretrained``, AnimateDiff-Lightning's ``*_diffusers.safetensors``):
    ``down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q.weight``;
  * the original AnimateDiff one (``mm_sd_v15.ckpt``, ``mm_sd_v15_v2.ckpt``, ``v3_sd15_mm.ckpt``,
    Lightning's ``*_comfyui.safetensors``): ``...motion_modules.0.temporal_transformer.transformer_blocks.0
    .attention_blocks.0.to_q.weight``, renamed with diffusers' own ``convert_animatediff_checkpoint_to_diffusers``.

What the weights show (block widths, motion layers per block, transformer layers, the positional table's
length, a mid block) is read from them, offline, never fetched from a hub repo as diffusers'
``from_single_file`` does; a ``config.json`` beside the file adds what weights cannot show (attention heads,
norm groups), is filtered to what ``MotionAdapter`` takes (older configs carry keys it no longer has), and
must agree with the weights. Without one, the unseen settings are AnimateDiff's for SD1.5 (8 heads, 32 groups).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from ...errors import EvsError, first_line
from .sources import check_adapter_config

_ORIGINAL = ".temporal_transformer."  # in every key of an original-layout motion module
_POSITIONS = re.compile(r"^down_blocks\.0\.motion_modules\.0\.(temporal_transformer\.)?transformer_blocks\.0\."
                        r"(attention_blocks\.0\.pos_encoder|pos_embed)\.pe$")


def read_weights(path: Path) -> dict:
    """A state dict from .safetensors, or from .ckpt/.pt/.pth unpickled with weights_only (no code runs)."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        return state.get("state_dict", state)
    except Exception as e:  # noqa: BLE001
        raise EvsError(f"{path}: not a readable weights file ({first_line(e)})") from e


def is_original_layout(state: dict) -> bool:
    return any(_ORIGINAL in k for k in state)


def seen_in_weights(state: dict, path: Path) -> dict:
    """The MotionAdapter settings the weights show, in either layout (values: tensors, or their shapes)."""
    motion = [k for k in state if ".motion_modules." in k]
    if not motion:
        raise EvsError(f"T2V motion adapter {path}: no motion modules in it (a T2I checkpoint goes to --t2i)")
    key = {k.replace(_ORIGINAL, "."): k for k in state}  # both layouts, addressed the diffusers way
    downs = sorted({int(m.group(1)) for k in key if (m := re.match(r"down_blocks\.(\d+)\.motion_modules\.", k))})
    widths = []
    for i in downs:
        proj = key.get(f"down_blocks.{i}.motion_modules.0.proj_in.weight")
        if proj is None:
            raise EvsError(f"T2V motion adapter {path}: down block {i} has motion weights but no proj_in")
        widths.append(int(_shape(state[proj])[0]))
    seen = {
        "block_out_channels": tuple(widths),
        "motion_layers_per_block": len({k.split(".")[3] for k in key if k.startswith("down_blocks.0.motion_modules.")}),
        "motion_transformer_layers_per_block": len({k.split(".")[5] for k in key if k.startswith(
            "down_blocks.0.motion_modules.0.transformer_blocks.")}),
        "use_motion_mid_block": any(k.startswith("mid_block.motion_modules.") for k in key),
    }
    table = next((state[k] for k in state if _POSITIONS.match(k)), None)
    if table is not None:  # (1, length, width); a file without it leaves the length to config.json or 32
        seen["motion_max_seq_length"] = int(_shape(table)[1])
    if "conv_in.weight" in state:
        seen["conv_in_channels"] = int(_shape(state["conv_in.weight"])[1])
    return seen


def _shape(value) -> tuple:
    return tuple(value) if isinstance(value, tuple) else tuple(value.shape)


def adapter_config(seen: dict, given: dict, cfg_file: Path | None) -> dict:
    """The weights' settings, with what a config beside them adds; a config that contradicts them is an error."""
    from diffusers import MotionAdapter

    accepted = set(inspect.signature(MotionAdapter.__init__).parameters) - {"self"}
    given = {k: v for k, v in given.items() if k in accepted}  # _class_name and legacy keys (motion_activation_fn) go
    for name, value in seen.items():
        if name in given and not _same(given[name], value):
            raise EvsError(f"T2V motion adapter {cfg_file}: says {name} = {given[name]!r}, but the weights beside "
                           f"it have {value!r}")
    return {**given, **seen}


def _same(configured, seen) -> bool:
    if isinstance(seen, tuple):
        configured = (configured,) * len(seen) if isinstance(configured, int) else tuple(configured)
    elif isinstance(configured, (list, tuple)):  # per block: the weights show block 0's count
        configured = configured[0]
    return configured == seen


def adapter_from_file(path: Path, dtype):
    """A MotionAdapter from a weights file in either layout, with the config.json beside it if there is one."""
    from accelerate import init_empty_weights
    from diffusers import MotionAdapter
    from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers

    cfg_file = path.parent / "config.json"
    cfg_file = cfg_file if cfg_file.is_file() else None
    given = check_adapter_config(cfg_file) if cfg_file else {}
    state = read_weights(path)
    config = adapter_config(seen_in_weights(state, path), given, cfg_file)
    if is_original_layout(state):  # the conversion drops the positional tables: diffusers recomputes the same sinusoids
        state = convert_animatediff_checkpoint_to_diffusers(state)
    try:
        with init_empty_weights():  # parameters come from the file; buffers (the positional tables) are made
            adapter = MotionAdapter(**config)
    except (TypeError, ValueError) as e:
        raise EvsError(f"T2V motion adapter {path}: cannot build an adapter of that shape ({first_line(e)})") from e
    try:
        missing, unexpected = adapter.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as e:  # a tensor of another size: its line names it
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise EvsError(f"T2V motion adapter {path}: weights do not fit the adapter: {lines[-1]}") from e
    missing = [k for k in missing if not k.endswith("pos_embed.pe")]
    if missing or unexpected:
        where = "config.json beside it" if cfg_file else "the shape its weights show"
        raise EvsError(f"T2V motion adapter {path}: weights do not fit the adapter ({where}): "
                       + "; ".join(p for p in (f"missing {missing[:2]}" if missing else "",
                                               f"unexpected {unexpected[:2]}" if unexpected else "") if p))
    return adapter.to(dtype)
