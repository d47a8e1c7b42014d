"""Make loaded models fast on a GPU without changing what they compute: channels-last convolutions, and
optional regional compilation of the blocks the UNets and the VAE repeat.

Regional compilation (torch.compile on each ResNet and transformer block rather than on whole models)
compiles each block's code once and reuses it for every instance and for both UNets, which share the
spatial blocks, so the warm-up is a fraction of a whole-model compile. Shapes that change between
videos (another size or frame count) are compiled once more, then marked dynamic by torch.
"""

from __future__ import annotations

import torch

# diffusers classes that make up nearly all of the UNets' and VAE's compute.
COMPILED_BLOCKS = ("ResnetBlock2D", "Transformer2DModel", "AnimateDiffTransformer3D")


def speed_up(models, compile: bool = False) -> int:
    """channels_last on CUDA; with `compile`, torch.compile each repeated block. Returns blocks compiled."""
    if models.device.type == "cuda":
        for m in (models.unet, models.motion_unet, models.vae):
            m.to(memory_format=torch.channels_last)
    if not compile:
        return 0
    cfg = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):  # one entry per distinct block signature
        if hasattr(cfg, name):
            setattr(cfg, name, max(getattr(cfg, name), 64))
    seen, n = set(), 0
    for root in (models.unet, models.motion_unet, models.vae):
        for mod in root.modules():
            if type(mod).__name__ in COMPILED_BLOCKS and id(mod) not in seen:
                seen.add(id(mod))
                mod.compile()
                n += 1
    return n

