"""Write a diffusers SD1.x model as one original (LDM / CompVis) checkpoint, for testing single-file loading.

Only the layout the tests' tiny models use (UNet with two layers per block, any number of blocks).
"""

import re

import torch


def _resnet(name: str) -> str:
    for a, b in (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
                 ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")):
        name = name.replace(a, b)
    return name


def _layer(kind: str, rest: str) -> str:
    """Inside an LDM block: .0 is the ResNet (renamed), .1 the transformer (names kept)."""
    return f"0.{_resnet(rest)}" if kind == "resnets" else f"1.{rest}"


def unet_to_ldm(sd: dict, layers: int = 2) -> dict:
    out = {}
    per = layers + 1
    for k, v in sd.items():
        n = k
        n = n.replace("time_embedding.linear_1", "time_embed.0").replace("time_embedding.linear_2", "time_embed.2")
        n = n.replace("conv_in.", "input_blocks.0.0.").replace("conv_norm_out.", "out.0.")
        n = re.sub(r"^conv_out\.", "out.2.", n)
        m = re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", n)
        if m:
            n = f"input_blocks.{per * int(m[1]) + int(m[3]) + 1}.{_layer(m[2], m[4])}"
        m = re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", n)
        if m:
            n = f"input_blocks.{per * (int(m[1]) + 1)}.0.op.{m[2]}"
        m = re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", n)
        if m:
            idx = {("resnets", 0): 0, ("attentions", 0): 1, ("resnets", 1): 2}[(m[1], int(m[2]))]
            n = f"middle_block.{idx}.{_resnet(m[3]) if m[1] == 'resnets' else m[3]}"
        m = re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", n)
        if m:
            n = f"output_blocks.{per * int(m[1]) + int(m[3])}.{_layer(m[2], m[4])}"
        m = re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", n)
        if m:
            i = int(m[1])
            has_attn = any(x.startswith(f"up_blocks.{i}.attentions.") for x in sd)
            n = f"output_blocks.{per * i + layers}.{2 if has_attn else 1}.conv.{m[2]}"
        out["model.diffusion_model." + n] = v
    return out


def vae_to_ldm(sd: dict, n_blocks: int) -> dict:
    out = {}
    for k, v in sd.items():
        n = k.replace("conv_norm_out", "norm_out")
        m = re.match(r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", n)
        if m:
            i = int(m[3]) if m[2] == "down" else n_blocks - 1 - int(m[3])
            n = f"{m[1]}.{m[2]}.{i}.block.{m[4]}.{m[5].replace('conv_shortcut', 'nin_shortcut')}"
        m = re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", n)
        if m:
            n = f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
        m = re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", n)
        if m:
            n = f"decoder.up.{n_blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
        m = re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.*)", n)
        if m:
            n = f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
        m = re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", n)
        if m:
            rest = m[2]
            for a, b in (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")):
                rest = rest.replace(a, b)
            n = f"{m[1]}.mid.attn_1.{rest}"
            if v.ndim == 2:  # LDM keeps these projections as 1x1 convolutions
                v = v[:, :, None, None]
        out["first_stage_model." + n] = v
    return out


def to_single_file(unet, vae, text_encoder) -> dict:
    sd = {**unet_to_ldm(unet.state_dict(), unet.config.layers_per_block),
          **vae_to_ldm(vae.state_dict(), len(vae.config.block_out_channels))}
    for k, v in text_encoder.state_dict().items():
        # real SD1.x checkpoints: cond_stage_model.transformer.text_model.embeddings...
        sd["cond_stage_model.transformer." + (k if k.startswith("text_model.") else "text_model." + k)] = v
    return {k: v.contiguous().clone() for k, v in sd.items() if isinstance(v, torch.Tensor)}
