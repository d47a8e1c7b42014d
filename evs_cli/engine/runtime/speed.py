"""Make loaded models fast on a GPU without changing what they compute: channels-last convolutions, and
optional regional compilation of the blocks the UNets and the VAE repeat.

Regional compilation (torch.compile on each ResNet and transformer block rather than on whole models)
compiles each block's code once and reuses it for every instance and for both UNets, which share the
spatial blocks, so the warm-up is a fraction of a whole-model compile. Shapes that change between
videos (another size or frame count) are compiled once more, then marked dynamic by torch.
"""

from __future__ import annotations

import torch


def attention_kernel(name: str):
    """A context in which every scaled_dot_product_attention (diffusers' processors, SFI's) tries the named
    kernel first and falls back to the others where it cannot run (a head size, a CPU); auto: PyTorch's
    own order, unchanged."""
    from contextlib import nullcontext

    if name == "auto":
        return nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = [SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    first = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}[name]
    return sdpa_kernel([first] + [b for b in order if b != first], set_priority=True)


# diffusers classes that make up nearly all of the UNets' compute, compiled block by block.
COMPILED_BLOCKS = ("ResnetBlock2D", "Transformer2DModel", "AnimateDiffTransformer3D")


def speed_up(models, compile: bool = False, vae_layout: str = "auto") -> int:
    """channels_last on CUDA; with `compile`, torch.compile each of the UNets' repeated blocks and the VAE's
    encoder and decoder whole. Returns the number of modules compiled.

    `vae_layout` (runtime.vae_layout): auto follows the UNets (channels_last on CUDA); contiguous keeps the
    VAE as loaded (eager GroupNorm on CUDA turns a channels-last input back, at two copies per norm);
    channels_last sets it on any device."""
    cuda = models.device.type == "cuda"
    if cuda:
        for m in (models.unet, models.motion_unet):
            m.to(memory_format=torch.channels_last)
    if vae_layout == "channels_last" or (vae_layout == "auto" and cuda):
        models.vae.to(memory_format=torch.channels_last)
    if not compile:
        return 0
    cfg = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):  # one entry per distinct block signature
        if hasattr(cfg, name):
            setattr(cfg, name, max(getattr(cfg, name), 64))
    seen = set()
    for root in (models.unet, models.motion_unet):  # shared spatial blocks: once, by identity
        for mod in root.modules():
            if type(mod).__name__ in COMPILED_BLOCKS and id(mod) not in seen:
                seen.add(id(mod))
                compile_forward(mod)
    # The VAE runs once per video and is mostly convolutions and norms: whole, it fuses across blocks.
    for mod in (models.vae.encoder, models.vae.decoder):
        compile_forward(mod)
    return len(seen) + 2


def compile_forward(module) -> None:
    """Replace this instance's forward with a compiled one. Not `module.compile()`: on torch 2.13 that wraps
    `_call_impl`, which dynamo leaves to eager, so nothing was compiled. A compiled bound forward traces the
    class's code once; instances of the same shapes share the graph (their weights are graph inputs)."""
    module.forward = torch.compile(module.forward)
