"""DOVER's network: the technical branch (3D Swin-T with DOVER's gated relative position bias), the
aesthetic branch (3D-inflated ConvNeXt-T), their VQA heads, with DOVER's module names so that the
published `DOVER.pth` loads as is. The views it scores and the fused score are in `dover.py`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---- technical branch: 3D Swin-T with gated relative position bias ----

def window_partition(x: torch.Tensor, ws) -> torch.Tensor:
    """(B, D, H, W, C) -> (B * windows, ws_d * ws_h * ws_w, C)."""
    b, d, h, w, c = x.shape
    x = x.view(b, d // ws[0], ws[0], h // ws[1], ws[1], w // ws[2], ws[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, ws[0] * ws[1] * ws[2], c)


def window_reverse(windows: torch.Tensor, ws, b: int, d: int, h: int, w: int) -> torch.Tensor:
    x = windows.view(b, d // ws[0], h // ws[1], w // ws[2], ws[0], ws[1], ws[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def fit_window(size, window, shift):
    """A window no larger than the feature map; no shift along an axis the window covers whole."""
    window, shift = list(window), list(shift)
    for i in range(3):
        if size[i] <= window[i]:
            window[i], shift[i] = size[i], 0
    return tuple(window), tuple(shift)


@lru_cache(maxsize=32)
def shift_mask(d: int, h: int, w: int, ws, shift, device) -> torch.Tensor:
    """Swin's mask for shifted windows: -100 between tokens that came from different regions. Built exactly
    as Video Swin builds it (slices with a zero shift cover the whole axis)."""
    labels = torch.zeros((1, d, h, w, 1), device=device)
    cnt = 0
    for sd in (slice(-ws[0]), slice(-ws[0], -shift[0]), slice(-shift[0], None)):
        for sh in (slice(-ws[1]), slice(-ws[1], -shift[1]), slice(-shift[1], None)):
            for sw in (slice(-ws[2]), slice(-ws[2], -shift[2]), slice(-shift[2], None)):
                labels[:, sd, sh, sw, :] = cnt
                cnt += 1
    win = window_partition(labels, ws).squeeze(-1)
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


@lru_cache(maxsize=32)
def fragment_distance(d: int, h: int, w: int, ws, shift, device) -> torch.Tensor:
    """(windows, N, N): for each token pair of a window, the L1 distance between the fragments (a ws_h x ws_w
    grid over the whole map) that the two tokens lie in. 0 = same fragment."""
    grid = torch.stack(torch.meshgrid(torch.arange(1), torch.arange(ws[1]), torch.arange(ws[2]), indexing="ij")).float()
    coords = F.interpolate(grid[None].to(device), size=(d, h, w)).long().permute(0, 2, 3, 4, 1)
    coords = torch.roll(coords, shifts=(-shift[0], -shift[1], -shift[2]), dims=(1, 2, 3))
    win = window_partition(coords, ws)
    return (win[:, None, :] - win[:, :, None]).abs().sum(-1)


class WindowAttention3D(nn.Module):
    def __init__(self, dim: int, window, heads: int, frag_bias: bool):
        super().__init__()
        self.window_size, self.num_heads = window, heads
        self.scale = (dim // heads) ** -0.5
        entries = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(entries, heads))
        if frag_bias:  # the bias used between tokens of the same fragment
            self.fragment_position_bias_table = nn.Parameter(torch.zeros(entries, heads))
        coords = torch.stack(torch.meshgrid(*(torch.arange(s) for s in window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        rel = rel + torch.tensor([window[0] - 1, window[1] - 1, window[2] - 1])
        index = rel[..., 0] * (2 * window[1] - 1) * (2 * window[2] - 1) + rel[..., 1] * (2 * window[2] - 1) + rel[..., 2]
        self.register_buffer("relative_position_index", index)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def _bias(self, table: torch.Tensor, n: int) -> torch.Tensor:
        idx = self.relative_position_index[:n, :n]  # DOVER's own slicing when the window shrinks
        return table[idx.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)

    def forward(self, x, mask, fdist):
        bw, n, c = x.shape
        q, k, v = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self._bias(self.relative_position_bias_table, n).unsqueeze(0)
        nw = fdist.shape[0]
        if hasattr(self, "fragment_position_bias_table"):
            gate = fdist.unsqueeze(1)  # not clipped to 1: DOVER uses the distance itself as the gate
            bias = bias * gate + self._bias(self.fragment_position_bias_table, n) * (1 - gate)
        attn = attn.view(bw // nw, nw, self.num_heads, n, n) + bias.unsqueeze(0)
        if mask is not None:
            attn = attn + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, self.num_heads, n, n).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock3D(nn.Module):
    def __init__(self, dim: int, heads: int, window, shift, frag_bias: bool):
        super().__init__()
        self.window_size, self.shift_size = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, window, heads, frag_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * 4)

    def _attend(self, x, layer_mask):
        b, d, h, w, c = x.shape
        ws, shift = fit_window((d, h, w), self.window_size, self.shift_size)
        x = self.norm1(x)
        pd, ph, pw = ((-d) % ws[0], (-h) % ws[1], (-w) % ws[2])
        x = F.pad(x, (0, 0, 0, pw, 0, ph, 0, pd))
        _, dp, hp, wp, _ = x.shape
        shifted = any(s > 0 for s in shift)
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
        fdist = fragment_distance(dp, hp, wp, ws, shift, x.device)
        out = self.attn(window_partition(x, ws), layer_mask if shifted else None, fdist)
        x = window_reverse(out.view(-1, *ws, c), ws, b, dp, hp, wp)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, :d, :h, :w].contiguous()

    def forward(self, x, layer_mask):
        x = x + self._attend(x, layer_mask)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        h, w = x.shape[2:4]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window, frag_bias: bool, downsample: bool):
        super().__init__()
        self.window_size = window
        self.shift_size = tuple(s // 2 for s in window)
        self.blocks = nn.ModuleList(SwinBlock3D(dim, heads, window, (0, 0, 0) if i % 2 == 0 else self.shift_size,
                                                frag_bias) for i in range(depth))
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x):  # (B, C, D, H, W)
        d, h, w = x.shape[2:]
        ws, shift = fit_window((d, h, w), self.window_size, self.shift_size)
        x = x.permute(0, 2, 3, 4, 1)
        padded = tuple(int(np.ceil(s / k)) * k for s, k in zip((d, h, w), ws))
        mask = shift_mask(*padded, ws, shift, x.device)
        for blk in self.blocks:
            x = blk(x, mask)
        if self.downsample is not None:
            x = self.downsample(x)
        return x.permute(0, 4, 1, 2, 3)


class PatchEmbed3D(nn.Module):
    def __init__(self, patch=(2, 4, 4), dim: int = 96):
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv3d(3, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        d, h, w = x.shape[2:]
        p = self.patch
        x = F.pad(x, (0, (-w) % p[2], 0, (-h) % p[1], 0, (-d) % p[0]))
        x = self.proj(x)
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class SwinTransformer3D(nn.Module):
    """DOVER's technical backbone ("swin_tiny_grpb"): Video Swin-T, window (8, 7, 7), fragment biases in
    the first three stages."""

    def __init__(self, depths=(2, 2, 6, 2), heads=(3, 6, 12, 24), window=(8, 7, 7), dim: int = 96,
                 frag_biases=(True, True, True, False)):
        super().__init__()
        self.patch_embed = PatchEmbed3D((2, 4, 4), dim)
        self.layers = nn.ModuleList(SwinStage(dim * 2**i, depths[i], heads[i], window, frag_biases[i], i < 3)
                                    for i in range(4))
        self.norm = nn.LayerNorm(dim * 8)

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x.contiguous())
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


# ---- aesthetic branch: ConvNeXt-T inflated to 3D ----

class ChannelNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, ...) tensors (ConvNeXt's channels_first LayerNorm)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim)), eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return self.weight.view(shape) * x + self.bias.view(shape)


class ConvNeXtBlock3D(nn.Module):
    def __init__(self, dim: int, t_kernel: int):
        super().__init__()
        self.dwconv = nn.Conv3d(dim, dim, kernel_size=(t_kernel, 7, 7), padding=(t_kernel // 2, 3, 3), groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 4, 1)
        y = self.gamma * self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 4, 1, 2, 3)


class ConvNeXt3D(nn.Module):
    """DOVER's aesthetic backbone ("conv_tiny"): ConvNeXt-T, temporal kernels 1, 3, 1, 1, 3, 1, ... ("131")."""

    def __init__(self, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)):
        super().__init__()
        self.downsample_layers = nn.ModuleList([nn.Sequential(nn.Conv3d(3, dims[0], (2, 4, 4), stride=(2, 4, 4)),
                                                              ChannelNorm(dims[0]))])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(ChannelNorm(dims[i]),
                                                        nn.Conv3d(dims[i], dims[i + 1], (1, 2, 2), stride=(1, 2, 2))))
        self.stages = nn.ModuleList(nn.Sequential(*(ConvNeXtBlock3D(dims[i], (1, 3, 1)[j % 3]) for j in range(depths[i])))
                                    for i in range(4))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)

    def forward(self, x):
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class VQAHead(nn.Module):
    """A quality value per space-time position: 1x1x1 conv 768 -> 64, GELU, -> 1."""

    def __init__(self, dim: int = 768, hidden: int = 64):
        super().__init__()
        self.fc_hid = nn.Conv3d(dim, hidden, 1)
        self.fc_last = nn.Conv3d(hidden, 1, 1)

    def forward(self, x):
        return self.fc_last(F.gelu(self.fc_hid(x)))


class DOVER(nn.Module):
    def __init__(self):
        super().__init__()
        self.technical_backbone = SwinTransformer3D()
        self.aesthetic_backbone = ConvNeXt3D()
        self.technical_head = VQAHead()
        self.aesthetic_head = VQAHead()

    def forward(self, technical: torch.Tensor, aesthetic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised views (clips, 3, T, 224, 224) -> (technical, aesthetic) raw scores, averaged as DOVER does."""
        t = self.technical_head(self.technical_backbone(technical)).mean()
        a = self.aesthetic_head(self.aesthetic_backbone(aesthetic)).mean()
        return t, a
