"""How one model is sampled, as a preset says it (a module of its own: presets load without torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError


@dataclass
class ModelOptions:
    """How one model is sampled: its scheduler (class + overrides of the T2I model's config), steps, CFG."""

    scheduler: str
    scheduler_config: dict = field(default_factory=dict)
    steps: int = 50
    guidance: float = 1.0
    guidance_interval: list | None = None  # [LOW, HIGH]: guidance only at timesteps in it (check_guidance_interval)
    negative_prompt: str = ""
    loras: list = field(default_factory=list)  # LoRA specs, FILE or FILE:SCALE, active in this model's stages
    family: str | None = None  # T2V only: the motion-module family these settings came from (families.py)


# --dtype / runtime.dtype: the short names and the long ones torch prints (engine/loaders/models.py maps them).
DTYPE_NAMES = ("auto", "bf16", "fp16", "fp32")
DTYPE_ALIASES = {"fp32": "fp32", "float32": "fp32", "fp16": "fp16", "float16": "fp16", "bf16": "bf16",
                 "bfloat16": "bf16"}

# runtime.vae_layout: the VAE's memory format (speed.speed_up)
VAE_LAYOUTS = ("auto", "channels_last", "contiguous")

# runtime.attention: the scaled-dot-product-attention kernel tried first (speed.attention_kernel)
ATTENTION = ("auto", "flash", "cudnn", "efficient", "math")


def check_guidance_interval(name: str, value) -> None:
    """Classifier-free guidance in a limited interval (Kynkäänniemi et al., 2024: at low noise guidance adds
    little, at the highest it harms): [LOW, HIGH] on the model's training timesteps (0 = clean, 999 = noise);
    a call at a timestep outside it is one unguided UNet pass, half a guided one's work. None: every call."""
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value) and 0 <= value[0] <= value[1] <= 999)
    if value is not None and not ok:
        raise ConfigError(f"{name} must be [LOW, HIGH], timesteps with 0 <= LOW <= HIGH <= 999 (guidance only "
                          f"between them), or left out, got {value!r}")


def guided_at(interval, t: int) -> bool:
    """Whether a call at timestep `t` is guided under `interval` (None: always)."""
    return interval is None or interval[0] <= t <= interval[1]


# What a weights file ends in: LoRAs, single-file checkpoints and VAEs (loaders/sources.py).
WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")

# LoRA specs (t2i.loras, t2v.loras, --lora): FILE or FILE:SCALE, parsed here so a preset checks them without
# loading anything (loras.py loads them).


def parse_spec(spec) -> tuple[str, float]:
    """'style.safetensors:0.8' -> ('style.safetensors', 0.8). A path's own colons stay in the path: the text
    after the last colon is a scale when it reads as a number, or when the text before it is a LoRA file's name
    (then a scale that is not a finite number is a ConfigError naming the scale); else the whole is the path."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"a LoRA is FILE or FILE:SCALE, got {spec!r}")
    path, sep, scale = spec.rpartition(":")
    if not sep or Path(spec).expanduser().is_file():
        return spec, 1.0
    try:
        value = float(scale)
    except ValueError:
        if not path.lower().endswith(WEIGHT_SUFFIXES):
            return spec, 1.0  # 'C:weights.safetensors', 'take:2.safetensors': a colon in the name
        raise ConfigError(f"LoRA {spec!r}: the scale {scale!r} is not a number (FILE:SCALE, e.g. "
                          f"{path}:0.8)") from None
    if not math.isfinite(value):
        raise ConfigError(f"LoRA {spec!r}: the scale {scale!r} is not a finite number")
    return path, value
