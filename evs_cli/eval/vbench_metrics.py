"""Metrics that need weights, computed the way their authors compute them. Weights are never downloaded here:
they come from a local folder or the Hugging Face cache (run once online, or copy the folder).

Subject consistency (VBench `subject_consistency.py`): every frame, shorter side resized to 224
(bilinear, no antialias, rounded back to uint8 as torchvision does on uint8 tensors), scaled to [0, 1],
ImageNet-normalised, through DINO ViT-B/16; the CLS feature after the final norm, L2-normalised. Per
video: mean over frames t >= 1 of (max(0, cos(f_t, f_t-1)) + max(0, cos(f_t, f_0))) / 2.

Aesthetic Predictor v2.5 (discus0434/aesthetic-predictor-v2-5, the paper's AP): SigLIP so400m-patch14-384
vision tower, pooled embedding L2-normalised, then an MLP head 1152-1024-128-64-16-1 (its published
`aesthetic_predictor_v2_5.pth` loads into `AestheticHead`). Frames are resized to the tower's square
input with PIL bicubic, scaled to [0, 1] and normalised with mean 0.5, std 0.5 (SiglipImageProcessor's
defaults). A video's score is the mean over its frames (on a 1-10 scale with the real weights).

Motion smoothness (VBench `motion_smoothness.py`): keep the even frames (0, 2, 4, ...), interpolate the
middle of each pair with AMT-S (`evs_cli.amt`, the published `amt-s.pth`) on frames scaled to [0, 1] and
padded (edge-replicated) to multiples of 16, cut back to uint8 by truncation as VBench does, and score
(255 - mean |odd frame - interpolated frame|) / 255, the mean taken over the interpolated frames.

Overall (the paper: "averaging the normalized values of the four scores", ranges "derived from the VBench
LeaderBoard", not printed). Ours: (v - lo) / (hi - lo) averaged over MS, SC, DOVER and AP, with
- MS [0.706, 0.9975] and SC [0.1462, 1.0]: VBench `scripts/constant.py` NORMALIZE_DIC;
- DOVER [0, 100] and AP [1, 10]: the ends of their own scales (no published range exists).
The paper's own Overall values cannot be reproduced from its text: a least-squares fit to its Table 1
(7 rows per dataset for 5 unknowns, so the widths are rough) is linear to 2e-4 within each dataset, with range widths of about 0.078 (MS),
0.121 (SC) and 5.5 (AP), but a DOVER width of 33 for VC2 and 15 for AD2, so it used ranges that differ
from VBench's constants and, for DOVER, per dataset. Compare our Overall between runs of evs, not with
the paper's column.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import EvsError, first_line

DINO_DEFAULT = "facebook/dino-vitb16"
NORMALIZE = {"motion_smoothness": (0.706, 0.9975), "subject_consistency": (0.1462, 1.0), "dover": (0.0, 100.0),
             "aesthetic": (1.0, 10.0)}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _not_here(source: str, local: Path, e: Exception) -> str:
    """Why weights did not load, in our words: a folder that holds no such model (with the library's reason), or
    a hub id not in the cache (the library's own text talks of connecting to the hub, which eval never does)."""
    if local.is_dir():
        return f"{str(local)!r} is not a usable model folder ({first_line(e, 120)})"
    return f"{source!r}: no such folder, and not in the Hugging Face cache"


def load_dino(source: str | None = None, device="cpu"):
    """DINO ViT-B/16 as a transformers ViTModel, from --dino, $EVS_DINO, or the cache of facebook/dino-vitb16."""
    from transformers import ViTModel

    source = source or os.environ.get("EVS_DINO") or DINO_DEFAULT
    local = Path(source).expanduser()
    try:
        model = ViTModel.from_pretrained(str(local) if local.is_dir() else source, add_pooling_layer=False,
                                         local_files_only=not local.is_dir())
    except Exception as e:  # noqa: BLE001 - any failure means: no usable weights here
        raise EvsError(f"subject_consistency skipped: DINO weights {_not_here(source, local, e)}; "
                       "pass --dino DIR or set EVS_DINO") from e
    return model.to(device).eval()


def dino_preprocess(frames: np.ndarray, n_px: int = 224) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> normalised float (F, 3, h, w) with the shorter side n_px."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    h, w = x.shape[-2:]
    short, long = (h, w) if h <= w else (w, h)
    new_short, new_long = n_px, int(n_px * long / short)
    size = (new_short, new_long) if h <= w else (new_long, new_short)
    x = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=False)
    x = x.round().clamp(0, 255) / 255.0  # torchvision rounds back to uint8 before the /255 step
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def dino_features(frames: np.ndarray, model, batch: int = 16) -> torch.Tensor:
    x = dino_preprocess(frames)
    dev = next(model.parameters()).device
    feats = [model(pixel_values=x[i : i + batch].to(dev), interpolate_pos_encoding=True).last_hidden_state[:, 0]
             for i in range(0, len(x), batch)]
    return F.normalize(torch.cat(feats).float().cpu(), dim=-1)


def subject_consistency(frames: np.ndarray, model) -> float:
    f = dino_features(frames, model)
    if len(f) < 2:
        return 1.0
    prev = (f[1:] * f[:-1]).sum(-1).clamp(min=0)
    first = (f[1:] * f[:1]).sum(-1).clamp(min=0)
    return float(((prev + first) / 2).mean())


AP_ENCODER_DEFAULT = "google/siglip-so400m-patch14-384"


class AestheticHead(torch.nn.Sequential):
    """The v2.5 scoring head; state-dict keys 0, 2, 4, 6, 8 as in the published .pth ("scoring_head." stripped)."""

    def __init__(self, hidden: int):
        d = torch.nn.Dropout
        super().__init__(torch.nn.Linear(hidden, 1024), d(0.5), torch.nn.Linear(1024, 128), d(0.5),
                         torch.nn.Linear(128, 64), d(0.5), torch.nn.Linear(64, 16), d(0.2), torch.nn.Linear(16, 1))


def load_aesthetic(encoder: str | None = None, head: str | None = None, device="cpu"):
    """(SigLIP vision tower, head) from --ap-encoder / $EVS_AP_ENCODER (else the cached hub id) and
    --ap-head / $EVS_AP_HEAD (the .pth file)."""
    from transformers import SiglipVisionModel

    encoder = encoder or os.environ.get("EVS_AP_ENCODER") or AP_ENCODER_DEFAULT
    head = head or os.environ.get("EVS_AP_HEAD")
    if not head or not Path(head).expanduser().is_file():
        raise EvsError("aesthetic skipped: no Aesthetic Predictor v2.5 head (pass --ap-head "
                       "aesthetic_predictor_v2_5.pth or set EVS_AP_HEAD)")
    local = Path(encoder).expanduser()
    try:
        tower = SiglipVisionModel.from_pretrained(str(local) if local.is_dir() else encoder,
                                                  local_files_only=not local.is_dir())
    except Exception as e:  # noqa: BLE001
        raise EvsError(f"aesthetic skipped: SigLIP encoder {_not_here(encoder, local, e)}; "
                       "pass --ap-encoder DIR or set EVS_AP_ENCODER") from e
    state = torch.load(str(Path(head).expanduser()), map_location="cpu", weights_only=True)
    state = {k.removeprefix("scoring_head."): v for k, v in state.items()}
    mlp = AestheticHead(tower.config.hidden_size)
    try:
        mlp.load_state_dict(state)
    except RuntimeError as e:
        raise EvsError(f"aesthetic skipped: {head} is not an Aesthetic Predictor v2.5 head for this encoder") from e
    return tower.to(device).eval(), mlp.to(device).eval()


def siglip_preprocess(frames: np.ndarray, size: int) -> torch.Tensor:
    from PIL import Image

    x = np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC)) for f in frames])
    return (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0 - 0.5) / 0.5


@torch.no_grad()
def aesthetic_score(frames: np.ndarray, predictor, batch: int = 16) -> float:
    tower, head = predictor
    x = siglip_preprocess(frames, tower.config.image_size)
    dev = next(tower.parameters()).device
    scores = []
    for i in range(0, len(x), batch):
        emb = tower(pixel_values=x[i : i + batch].to(dev)).pooler_output
        scores.append(head(emb / emb.norm(dim=-1, keepdim=True)).float().cpu())
    return float(torch.cat(scores).mean())


AMT_HUB = ("lalala125/AMT", "amt-s.pth")  # where VBench's download script takes it from


def _vbench_cache_amt() -> Path:
    """Where VBench keeps amt-s.pth: $VBENCH_CACHE_DIR, else ~/.cache/vbench (its utils.py)."""
    return Path(os.environ.get("VBENCH_CACHE_DIR") or "~/.cache/vbench").expanduser() / "amt_model" / "amt-s.pth"


def _amt_checkpoint(path: str | None) -> Path:
    if path:
        if not Path(path).expanduser().is_file():
            raise EvsError(f"motion_smoothness skipped: {path}: no such AMT-S checkpoint")
        return Path(path).expanduser()
    if _vbench_cache_amt().is_file():
        return _vbench_cache_amt()
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(*AMT_HUB)
    if isinstance(cached, str):
        return Path(cached)
    raise EvsError("motion_smoothness skipped: no AMT-S weights (pass --amt amt-s.pth or set EVS_AMT; "
                   f"VBench keeps it in {_vbench_cache_amt()})")


def load_checkpoint(model: torch.nn.Module, file: Path, metric: str, kind: str, device) -> torch.nn.Module:
    """`model` with the weights in `file` (a state dict, or one under "state_dict" as training scripts save
    it), read without unpickling code; any failure is a one-line skip of `metric`."""
    try:
        state = torch.load(str(file), map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("state_dict", state))
    except Exception as e:  # noqa: BLE001 - any failure means this file is not usable here
        raise EvsError(f"{metric} skipped: {file} is not {kind} checkpoint ({first_line(e, 120)})") from e
    return model.to(device).eval()


def load_amt(path: str | None = None, device="cpu"):
    """AMT-S from --amt / $EVS_AMT, else VBench's cache folder ($VBENCH_CACHE_DIR or ~/.cache/vbench), else the
    Hugging Face cache."""
    from .amt import AMTS

    return load_checkpoint(AMTS(), _amt_checkpoint(path or os.environ.get("EVS_AMT")), "motion_smoothness",
                           "an AMT-S", device)


def amt_scale(h: int, w: int, device) -> float:
    """VBench's working scale: 1 on the CPU; on a GPU, smaller only when the frame would not fit in memory."""
    device = torch.device(device)
    if device.type != "cuda":
        return 1.0
    vram = torch.cuda.get_device_properties(device).total_memory
    scale = 1024 * 512 / (h * w) * np.sqrt((vram - 2500 * 1024**2) / (1500 * 1024**2))
    scale = min(1.0, scale)
    return float(1 / np.floor(1 / np.sqrt(scale) * 16) * 16)


def pad_to_multiple(x: torch.Tensor, divisor: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Edge-replicate (B, C, H, W) up to multiples of divisor, split as AMT's InputPadder splits it."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % divisor, (-w) % divisor
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return F.pad(x, pads, mode="replicate"), pads


@torch.no_grad()
def motion_smoothness(frames: np.ndarray, model, batch: int = 4) -> float:
    if len(frames) < 3:
        raise EvsError(f"motion_smoothness needs at least 3 frames, got {len(frames)}")
    dev = next(model.parameters()).device
    h, w = frames.shape[1:3]
    scale = amt_scale(h, w, dev)
    kept = torch.from_numpy(np.ascontiguousarray(frames[0::2])).permute(0, 3, 1, 2).float() / 255.0
    x, (left, _, top, _) = pad_to_multiple(kept, int(16 / scale))
    if min(x.shape[-2:]) * scale < 128:  # AMT-S's coarsest correlation level would have one pixel (NaN)
        raise EvsError(f"motion_smoothness needs frames of at least 113x113 pixels, got {w}x{h}")
    interp = []
    for a, b in zip(x[:-1].split(batch), x[1:].split(batch)):  # consecutive kept frames, a batch of pairs at once
        t = torch.full((len(a), 1, 1, 1), 0.5, device=dev)
        out = model(a.to(dev), b.to(dev), t, scale_factor=scale)[:, :, top : top + h, left : left + w]
        interp.append((out.float().cpu() * 255).clamp(0, 255).to(torch.uint8))  # truncates, as VBench's astype
    interp = torch.cat(interp).permute(0, 2, 3, 1).numpy()
    odd = frames[1::2][: len(interp)]
    diff = np.mean([np.abs(o.astype(np.int16) - p.astype(np.int16)).mean() for o, p in zip(odd, interp)])
    return float((255.0 - diff) / 255.0)


def normalized(metric: str, value: float) -> float:
    lo, hi = NORMALIZE[metric]
    return (value - lo) / (hi - lo)


def overall(scores: dict) -> float | None:
    """Mean of the four normalised scores; None unless all four are there."""
    if not all(m in scores for m in NORMALIZE):
        return None
    return float(np.mean([normalized(m, scores[m]) for m in NORMALIZE]))
