"""Tiny random models in the real architectures, built offline (as diffusers' own tests do).

They have no priors: they exercise loading, shapes and the schedule, not quality. Tests save them to a
temporary folder and load them through the same code path as real models.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CROSS_DIM = 32


def bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def save_tokenizer(folder: Path, words=("a", "red", "blue", "circle", "square", "moving", "over", "stripes")):
    """A valid CLIPTokenizer: byte-level vocab plus merges that spell a few whole words."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for w in words:  # merge left to right: r e -> re, re d</w> -> red</w>
        cur = w[0]
        for i, ch in enumerate(w[1:], 1):
            nxt = ch + ("</w>" if i == len(w) - 1 else "")
            merges.append(f"{cur} {nxt}")
            cur = cur + nxt
            if cur not in vocab:
                vocab.append(cur)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(dict.fromkeys(vocab))}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    tok.save_pretrained(str(folder))
    return tok


def build_t2i(seed: int = 0):
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=CROSS_DIM, attention_head_dim=8, norm_num_groups=8)
    vae = AutoencoderKL(
        block_out_channels=(8, 16, 16, 16), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
        layers_per_block=1, down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, hidden_size=CROSS_DIM, intermediate_size=37, layer_norm_eps=1e-5,
        num_attention_heads=4, num_hidden_layers=2, pad_token_id=1, vocab_size=1000))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return unet.eval(), vae.eval(), text_encoder.eval(), scheduler


def build_adapter(seed: int = 1):
    from diffusers import MotionAdapter

    torch.manual_seed(seed)
    return MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=2, motion_norm_num_groups=8,
                         motion_num_attention_heads=2, motion_max_seq_length=32, use_motion_mid_block=False).eval()


def save_tiny_models(root: Path, seed: int = 0) -> dict[str, Path]:
    """Write a tiny T2I diffusers folder, an adapter folder and a bare adapter .safetensors under root."""
    from safetensors.torch import save_file

    root = Path(root)
    unet, vae, text_encoder, scheduler = build_t2i(seed)
    t2i = root / "t2i"
    unet.save_pretrained(t2i / "unet")
    vae.save_pretrained(t2i / "vae")
    text_encoder.save_pretrained(t2i / "text_encoder")
    scheduler.save_pretrained(t2i / "scheduler")
    save_tokenizer(t2i / "tokenizer")
    (t2i / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"],
        "safety_checker": [None, None], "feature_extractor": [None, None]}))
    adapter = build_adapter(seed + 1)
    adapter.save_pretrained(root / "adapter")
    single = root / "adapter_file"
    single.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in adapter.state_dict().items()}, str(single / "motion.safetensors"))
    (single / "config.json").write_text((root / "adapter" / "config.json").read_text())
    return {"t2i": t2i, "adapter": root / "adapter", "adapter_file": single / "motion.safetensors"}
