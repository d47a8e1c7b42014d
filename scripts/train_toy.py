"""Train the toy world's models on the CPU: a small VAE, a T2I UNet with its text encoder, and a motion
adapter on the frozen spatial UNet (the way AnimateDiff trains), then save them in diffusers layout.

    python scripts/train_toy.py --out evs_cli/toy/models --seed 0          # about 80 min on 2 cores
    python scripts/train_toy.py --out /tmp/toy --scale 0.02                # a quick smoke run
    python scripts/train_toy.py --out evs_cli/toy/models --seed 0 --start-at t2i --from evs_cli/toy/models
                                      # keep the saved VAE, retrain the T2I and the motion adapter
    python scripts/train_toy.py --out evs_cli/toy/models --seed 0 --start-at motion --from evs_cli/toy/models
                                      # only the motion adapter, on the VAE and T2I already saved there

A run repeats byte for byte with the same --seed and --threads (the thread count changes the order of
float sums); the shipped weights used the defaults, 2 threads. Each stage has its own seed and trains on the
stages before it as they ship (fp16 on disk), so a run that starts at a later stage on saved models makes the
same weights as a full run.

The toy T2V is made weaker at imaging than the toy T2I on purpose, as real T2V models are (the
premise of the paper): its motion training sees softened clips. Training clips use seeds >= 10000;
held-out clips (tests, benchmarks, the shipped sample) use seeds below that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from evs_cli.engine.loaders.models import load_t2i  # noqa: E402
from evs_cli.engine.loaders.motion_unet import build_motion_unet  # noqa: E402
from evs_cli.toy.data import FRAMES, WORDS, flicker_jitter, render, soften, spec_for  # noqa: E402
from evs_cli.toy.tiny import save_tokenizer  # noqa: E402

TRAIN_SEED0 = 10_000
LATENT_CHANNELS = 8
STAGES = ("vae", "t2i", "motion")
BETAS = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)


def clips(n: int, seed: int):
    """n training clips: (clean, softened, degraded, prompt)."""
    out = []
    for k in range(n):
        s = spec_for(TRAIN_SEED0 + seed * 100_000 + k)
        c = render(s)
        # the VAE also learns degraded frames; these are the values the shipped weights were trained with
        out.append((c, soften(c, 1.0), flicker_jitter(c, s.seed, blur=1.2, noise=3.0), s.prompt))
    return out


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1


def lr_at(step: int, total: int, peak: float) -> float:
    warm = max(1, total // 20)
    return peak * min(1.0, (step + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, step / total)))


def set_lr(opt, step: int, total: int, peak: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr_at(step, total, peak)


def update(opt, loss, clip_params=None) -> None:
    opt.zero_grad()
    loss.backward()
    if clip_params is not None:
        torch.nn.utils.clip_grad_norm_(clip_params, 1.0)
    opt.step()


def as_shipped(*models) -> None:
    """Round weights through fp16 in place, as save() writes them: later stages train on what ships."""
    for model in models:
        model.to(torch.float16).to(torch.float32)


def train_vae(data, steps: int, log):
    from diffusers import AutoencoderKL

    # 4x downsampling to 8 latent channels (SD: 8x to 4): 64x64 clips keep their 6-10 px textures through the
    # round trip; no attention in the middle block, so the VAE is fully convolutional and learns from crops
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS, layers_per_block=1,
                        norm_num_groups=8, block_out_channels=(24, 48, 48), sample_size=64, mid_block_add_attention=False,
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3)
    # every clean frame, and every fourth frame of the degraded clips (inputs are encoded too)
    frames = torch.cat([torch.cat([to_tensor(c), to_tensor(d[::4])]) for c, _, d, _ in data])
    opt = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    for step in range(steps):
        set_lr(opt, step, steps, 2e-3)
        x = frames[torch.randint(len(frames), (64,), generator=g)]
        i, j = (4 * torch.randint(0, 9, (2,), generator=g)).tolist()  # a 32x32 crop on the latent grid
        x = x[:, :, i : i + 32, j : j + 32]
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.mode()).sample  # the engine encodes to the mode too
        loss = F.mse_loss(rec, x) + 0.5 * F.l1_loss(rec, x) + 1e-7 * post.kl().mean()
        update(opt, loss, list(vae.parameters()))
        if step % 100 == 0 or step == steps - 1:
            log(f"vae {step}/{steps} loss {loss.item():.4f}")
    vae.eval()
    with torch.no_grad():
        lat = torch.cat([vae.encode(frames[i : i + 256]).latent_dist.mode() for i in range(0, min(len(frames), 2048), 256)])
    vae.register_to_config(scaling_factor=float(1.0 / lat.std()))
    return vae


@torch.no_grad()
def encode(vae, frames: np.ndarray) -> torch.Tensor:
    x = to_tensor(frames)
    return torch.cat([vae.encode(x[i : i + 128]).latent_dist.mode() for i in range(0, len(x), 128)]) * vae.config.scaling_factor


def embed(tok, text_encoder, prompts: list[str]) -> torch.Tensor:
    ids = tok(prompts, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt").input_ids
    return text_encoder(ids)[0]


def add_noise(x0, g, alphas):
    t = torch.randint(0, 1000, (x0.shape[0],), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    a = alphas[t].view(-1, *([1] * (x0.ndim - 1))).float()
    return a.sqrt() * x0 + (1 - a).sqrt() * eps, t, eps


def train_t2i(vae, tok, data, steps: int, seed: int, log):
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed + 2)  # its own seed, so that --start-at t2i makes the same T2I as a full run
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id))
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, layers_per_block=1, block_out_channels=(32, 64, 64),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=64, attention_head_dim=4, norm_num_groups=16)
    latents = torch.cat([encode(vae, c) for c, _, _, _ in data])
    prompts = [p for _, _, _, p in data for _ in range(FRAMES)]
    alphas = DDPMScheduler(**BETAS).alphas_cumprod
    params = list(unet.parameters()) + list(text_encoder.parameters())
    # many small steps at a high peak: on held-out clips, 4000 steps of 16 frames at 2e-3 (the shipped T2I)
    # denoise far better (loss 0.074 averaged over t) than 1000 steps of 64 at 5e-4 (0.198, and noise-like
    # textures when generating) with the same number of samples; 1200 steps of 16 reached 0.136
    peak, batch = 2e-3, 16
    opt = torch.optim.AdamW(params, lr=peak, weight_decay=1e-4)
    g = torch.Generator().manual_seed(2)
    for step in range(steps):
        set_lr(opt, step, steps, peak)
        idx = torch.randint(len(latents), (batch,), generator=g)
        drop = torch.rand(batch, generator=g) < 0.1  # unconditional 10% of the time: classifier-free guidance
        text = embed(tok, text_encoder, ["" if d else prompts[i] for i, d in zip(idx.tolist(), drop.tolist())])
        zt, t, eps = add_noise(latents[idx], g, alphas)
        loss = F.mse_loss(unet(zt, t, encoder_hidden_states=text).sample, eps)
        update(opt, loss, params)
        if step % 100 == 0 or step == steps - 1:
            log(f"t2i {step}/{steps} loss {loss.item():.4f}")
    return unet.eval(), text_encoder.eval()


def train_motion(vae, tok, text_encoder, unet, data, steps: int, seed: int, log):
    from diffusers import DDPMScheduler, MotionAdapter

    torch.manual_seed(seed + 3)  # its own seed, so that --start-at motion makes the same adapter as a full run
    adapter = MotionAdapter(block_out_channels=(32, 64, 64), motion_layers_per_block=1, motion_num_attention_heads=4,
                            motion_norm_num_groups=16, motion_max_seq_length=32, use_motion_mid_block=False)
    unet.requires_grad_(False)
    text_encoder.requires_grad_(False)
    # AnimateDiff zero-initialises each temporal block's output projection, so training starts from the
    # T2I's own output instead of first undoing random motion layers
    temporal = [m for m in adapter.modules() if type(m).__name__ == "AnimateDiffTransformer3D"]
    assert temporal, "no temporal blocks found in the motion adapter"
    for block in temporal:
        torch.nn.init.zeros_(block.proj_out.weight)
        torch.nn.init.zeros_(block.proj_out.bias)
    log(f"motion adapter: {len(temporal)} temporal blocks start at zero")
    motion = build_motion_unet(unet, adapter).train()
    clips_lat = torch.stack([encode(vae, s) for _, s, _, _ in data])  # softened clips: the weaker T2V
    with torch.no_grad():
        texts = embed(tok, text_encoder, [p for _, _, _, p in data])
    alphas = DDPMScheduler(**BETAS).alphas_cumprod
    params = list(adapter.parameters())
    # a peak 10x the T2I's: at 5e-4 the zero-initialised temporal blocks learn slowly (400 steps at 5e-3 match
    # 2000 at 5e-4 on refinement consistency; a motion mid block added nothing)
    peak = 5e-3
    opt = torch.optim.AdamW(params, lr=peak, weight_decay=1e-4)
    g = torch.Generator().manual_seed(3)
    batch = 2
    for step in range(steps):
        set_lr(opt, step, steps, peak)
        idx = torch.randint(len(clips_lat), (batch,), generator=g)
        x0 = clips_lat[idx].permute(0, 2, 1, 3, 4)  # (B, C, F, h, w)
        # refinement runs the T2V at t < 400 (tV <= 3 of 8), so four fifths of the steps train there
        low = torch.rand(batch, generator=g) < 0.8
        t = torch.where(low, torch.randint(0, 400, (batch,), generator=g), torch.randint(0, 1000, (batch,), generator=g))
        eps = torch.randn(x0.shape, generator=g)
        a = alphas[t].view(-1, 1, 1, 1, 1).float()
        zt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        text = texts[idx].repeat_interleave(FRAMES, dim=0)
        loss = F.mse_loss(motion(zt, t, encoder_hidden_states=text).sample, eps)
        update(opt, loss, params)
        if step % 100 == 0 or step == steps - 1:
            log(f"motion {step}/{steps} loss {loss.item():.4f}")
    return adapter.eval()


def save_adapter(out: Path, adapter) -> None:
    adapter.to(torch.float16).save_pretrained(out / "t2v")  # fp16 on disk, as the T2I


def forget_source(config: Path) -> None:
    """A model loaded by --from records the folder it came from; what ships names no local path."""
    data = json.loads(config.read_text())
    if data.pop("_name_or_path", None) is not None:
        config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def save(out: Path, vae, text_encoder, unet, adapter) -> None:
    from diffusers import DDIMScheduler

    t2i = out / "t2i"
    for name, model in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder)):
        model.to(torch.float16).save_pretrained(t2i / name)  # fp16 on disk keeps the package small
        model.to(torch.float32)
        forget_source(t2i / name / "config.json")
    DDIMScheduler(**BETAS, clip_sample=False, set_alpha_to_one=False, steps_offset=1).save_pretrained(t2i / "scheduler")
    (t2i / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"],
        "safety_checker": [None, None], "feature_extractor": [None, None]}, indent=1))
    save_adapter(out, adapter)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every step count (0.02 for a smoke run)")
    ap.add_argument("--clips", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vae-steps", type=int, default=1600)
    ap.add_argument("--t2i-steps", type=int, default=4000)
    ap.add_argument("--motion-steps", type=int, default=3000)
    ap.add_argument("--start-at", choices=STAGES, default="vae",
                    help="the first stage to train; the stages before it are loaded from --from")
    ap.add_argument("--from", dest="source", type=Path, metavar="DIR",
                    help="models saved by an earlier run (DIR/t2i, as --out writes them), for --start-at t2i or motion")
    a = ap.parse_args()
    if (a.start_at == "vae") != (a.source is None):
        ap.error("--from DIR goes with --start-at t2i or --start-at motion, and only with them")
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - start:7.1f}s] {msg}", flush=True)

    data = clips(max(8, int(a.clips * min(1.0, a.scale * 10))), a.seed)
    log(f"{len(data)} training clips")
    if a.source:
        tok, text_encoder, vae, unet, _ = load_t2i(str(a.source / "t2i"), torch.float32)
        if a.out.resolve() != a.source.resolve():  # the tokenizer's files as they are (re-saving changes them)
            shutil.copytree(a.source / "t2i" / "tokenizer", a.out / "t2i" / "tokenizer", dirs_exist_ok=True)
    else:
        tok = save_tokenizer(a.out / "t2i" / "tokenizer", words=WORDS)
        vae = train_vae(data, max(2, int(a.vae_steps * a.scale)), log)
        as_shipped(vae)  # the T2I learns the latents of the VAE as it ships, which is also what --from loads
    if a.start_at != "motion":
        unet, text_encoder = train_t2i(vae, tok, data, max(2, int(a.t2i_steps * a.scale)), a.seed, log)
        as_shipped(unet, text_encoder)
    adapter = train_motion(vae, tok, text_encoder, unet, data, max(2, int(a.motion_steps * a.scale)), a.seed, log)
    save(a.out, vae, text_encoder, unet, adapter)
    log(f"saved to {a.out}")


if __name__ == "__main__":
    main()
