"""Selective Feature Injection (paper Sec. 3.2, Eq. 11).

During DDIM inversion the selected spatial self-attention layers record Q, K, V (and selected ResNet
blocks their outputs f) for each timestep the denoising will visit; while denoising they compute
Attn(g*Q_inv + (1-g)*Q, K_inv, V_inv) and take f_inv. Attention processors never see the timestep,
so the denoiser tells them the current key (timestep, window) through a small shared state as it calls the UNet.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .layers import layer_prefix


def _spatial(name: str) -> bool:
    return "motion_modules" not in name


def select_modules(unet: torch.nn.Module, names, kind: str) -> dict[str, torch.nn.Module]:
    """Spatial self-attention (`attn1` under `attentions`) or ResNet blocks matched by `names`."""
    out: dict[str, torch.nn.Module] = {}
    for n in names:
        prefix = layer_prefix(n)
        found = {
            path: mod
            for path, mod in unet.named_modules()
            if _spatial(path)
            and (path + ".").startswith(prefix)
            and (
                (kind == "attn" and path.endswith(".attn1") and ".attentions." in path)
                or (kind == "resnet" and re.search(r"\.resnets\.\d+$", path))
            )
        }
        if not found:
            raise ConfigError(f"layer {n!r} matches no spatial {'self-attention' if kind == 'attn' else 'ResNet'} "
                              "layer of the loaded T2V UNet")
        out.update(found)
    return out


@dataclass
class FeatureState:
    """What the processors need to know: record, inject or pass through, and under which key."""

    mode: str = "off"  # off | record | inject
    t: int = 0  # set by the denoiser at each call (the timestep it is called at)
    window: int = 0  # set by the denoiser before each window's forward pass
    gamma: float = 1.0
    record_levels: set = field(default_factory=set)  # timesteps the denoising will visit
    store: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int]:
        return (self.t, self.window)

    def recording(self) -> bool:
        return self.mode == "record" and self.t in self.record_levels

    def injecting(self) -> bool:
        return self.mode == "inject"


def _match_batch(t: torch.Tensor, batch: int) -> torch.Tensor:
    # The inversion branch runs unguided; with CFG the denoising batch is [uncond; cond] of it.
    return t if t.shape[0] == batch else t.repeat(batch // t.shape[0], *([1] * (t.ndim - 1)))


class InjectingSelfAttention:
    """AttnProcessor2_0 for self-attention with a record/inject point after the Q, K, V projections."""

    def __init__(self, name: str, state: FeatureState):
        self.name, self.state = name, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        batch = hidden_states.shape[0]
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, hidden_states.shape[1], batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        st = self.state
        if st.recording():
            st.store[(self.name, st.key)] = (q.detach(), k.detach(), v.detach())
        elif st.injecting():
            qi, ki, vi = (_match_batch(x, batch) for x in st.store[(self.name, st.key)])
            q, k, v = st.gamma * qi + (1.0 - st.gamma) * q, ki, vi

        head_dim = k.shape[-1] // attn.heads
        q, k, v = (x.view(batch, -1, attn.heads, head_dim).transpose(1, 2) for x in (q, k, v))
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        hidden_states = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask, dropout_p=0.0)
        hidden_states = hidden_states.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(q.dtype)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def _resnet_hook(name: str, state: FeatureState):
    def hook(module, args, output):
        if state.recording():
            state.store[(name, state.key)] = output.detach()
        elif state.injecting():
            return _match_batch(state.store[(name, state.key)], output.shape[0])
        return output

    return hook


@contextmanager
def feature_injection(unet: torch.nn.Module, layers, resnet_layers, state: FeatureState):
    """Install recording/injecting processors and hooks on `unet`; restore and free everything after."""
    attns = select_modules(unet, layers, "attn") if layers else {}
    resnets = select_modules(unet, resnet_layers, "resnet") if resnet_layers else {}
    saved = {name: mod.processor for name, mod in attns.items()}
    handles = []
    try:
        for name, mod in attns.items():
            mod.set_processor(InjectingSelfAttention(name, state))
        for name, mod in resnets.items():
            handles.append(mod.register_forward_hook(_resnet_hook(name, state)))
        yield state
    finally:
        for name, mod in attns.items():
            mod.set_processor(saved[name])
        for h in handles:
            h.remove()
        state.store.clear()  # recorded features are freed when the block ends
        state.mode = "off"
