"""Write a diffusers MotionAdapter's weights in the original AnimateDiff layout (mm_sd_v15*.ckpt,
v3_sd15_mm.ckpt, Lightning's *_comfyui.safetensors), as tests/ldm_layout.py writes an SD single file.

The key mapping is diffusers' convert_animatediff_checkpoint_to_diffusers run backwards, written here
independently: motion modules hold a `temporal_transformer`, attention blocks are `attention_blocks.0/1`,
norms `norms.0/1` and `ff_norm`, and each attention block keeps its own positional table `pos_encoder.pe`.
"""

import re

_BACK = ((".norm1.", ".norms.0."), (".norm2.", ".norms.1."), (".norm3.", ".ff_norm."),
         (".attn1.", ".attention_blocks.0."), (".attn2.", ".attention_blocks.1."))


def to_original_layout(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        k = re.sub(r"(motion_modules\.\d+)\.", r"\1.temporal_transformer.", key)
        if k.endswith(".pos_embed.pe"):  # one table per attention block in the original
            base = k[: -len("pos_embed.pe")]
            out[base + "attention_blocks.0.pos_encoder.pe"] = value.clone()
            out[base + "attention_blocks.1.pos_encoder.pe"] = value.clone()
            continue
        for new, old in _BACK:
            k = k.replace(new, old)
        out[k] = value.clone()
    return out
