"""How one model is sampled, as a preset says it (a module of its own: presets load without torch)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelOptions:
    """How one model is sampled: its scheduler (class + overrides of the T2I model's config), steps, CFG."""

    scheduler: str
    scheduler_config: dict = field(default_factory=dict)
    steps: int = 50
    guidance: float = 1.0
    negative_prompt: str = ""
    loras: list = field(default_factory=list)  # LoRA specs, FILE or FILE:SCALE, active in this model's stages
    family: str | None = None  # T2V only: the motion-module family these settings came from (families.py)


# --dtype / runtime.dtype: the short names and the long ones torch prints (engine/models.py maps them).
DTYPE_NAMES = ("auto", "bf16", "fp16", "fp32")
DTYPE_ALIASES = {"fp32": "fp32", "float32": "fp32", "fp16": "fp16", "float16": "fp16", "bf16": "bf16",
                 "bfloat16": "bf16"}

# runtime.vae_layout: the VAE's memory format (speed.speed_up)
VAE_LAYOUTS = ("auto", "channels_last", "contiguous")

# runtime.attention: the scaled-dot-product-attention kernel tried first (speed.attention_kernel)
ATTENTION = ("auto", "flash", "cudnn", "efficient", "math")
