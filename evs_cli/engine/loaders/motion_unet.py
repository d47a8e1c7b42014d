"""The T2V UNet built on the T2I UNet's own spatial modules, so that their weights exist once in memory.

diffusers' ``UNetMotionModel.from_unet2d`` copies the spatial weights; here the skeleton is built without
weights and the 2D UNet's modules and the adapter's motion modules are attached to it instead.
"""

from __future__ import annotations

from ...errors import EvsError


def build_motion_unet(unet, adapter):
    """UNetMotionModel whose spatial modules are the very modules of `unet` (weights stored once)."""
    from accelerate import init_empty_weights
    from diffusers import UNetMotionModel

    with init_empty_weights():
        m = UNetMotionModel.from_unet2d(unet, adapter, load_weights=False)
    for name in ("conv_in", "time_proj", "time_embedding", "conv_norm_out", "conv_act", "conv_out"):
        setattr(m, name, getattr(unet, name))
    for mine, theirs, motion in zip(m.down_blocks, unet.down_blocks, adapter.down_blocks):
        _share(mine, theirs, ("resnets", "attentions", "downsamplers"))
        mine.motion_modules = motion.motion_modules
    for mine, theirs, motion in zip(m.up_blocks, unet.up_blocks, adapter.up_blocks):
        _share(mine, theirs, ("resnets", "attentions", "upsamplers"))
        mine.motion_modules = motion.motion_modules
    _share(m.mid_block, unet.mid_block, ("resnets", "attentions"))
    if hasattr(m.mid_block, "motion_modules"):
        m.mid_block.motion_modules = adapter.mid_block.motion_modules
    left = [n for n, t in list(m.named_parameters()) + list(m.named_buffers()) if t.is_meta]
    if left and not unet.conv_in.weight.is_meta:  # a UNet built on the meta device (to count FLOPs) is all meta
        raise EvsError(f"motion adapter does not fit the T2I UNet: unfilled weights {left[:3]}")
    return m.eval()


def _share(mine, theirs, names) -> None:
    for n in names:
        if getattr(theirs, n, None) is not None and hasattr(mine, n):
            setattr(mine, n, getattr(theirs, n))


def unique_parameter_bytes(*modules) -> int:
    """Bytes of parameter storage across modules, each storage counted once."""
    seen, total = set(), 0
    for mod in modules:
        for p in mod.parameters():
            key = p.untyped_storage().data_ptr()
            if key not in seen:
                seen.add(key)
                total += p.untyped_storage().nbytes()
    return total
