"""AMT-S (Li et al., "AMT: All-Pairs Multi-Field Transforms for Efficient Frame Interpolation", CVPR 2023),
the frame interpolator behind VBench's motion smoothness.

Written here from the architecture as VBench ships it (`vbench/third_party/amt/networks/AMT-S.py` and its
blocks), with the same module names, so the published `amt-s.pth` (`state_dict` inside) loads as is:
- a RAFT-style context encoder at 1/8 scale and all-pairs correlation, looked up in both directions;
- an IFRNet feature pyramid (1/2 .. 1/16) and coarse-to-fine decoders that predict the flows from the
  middle frame to each input and a middle-frame feature;
- a small update block per scale that refines flow and feature from the correlation;
- at full scale, three flow pairs with masks and residuals, blended by a small conv block.

Images are float (B, 3, H, W) in [0, 1] with H and W divisible by 16 (pad first).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample img at x + flow(x) (flow in pixels); borders are repeated."""
    b, _, h, w = flow.shape
    xs = torch.linspace(-1.0, 1.0, w, device=img.device, dtype=img.dtype).view(1, w).expand(h, w)
    ys = torch.linspace(-1.0, 1.0, h, device=img.device, dtype=img.dtype).view(h, 1).expand(h, w)
    grid = torch.stack([xs, ys], -1).unsqueeze(0)
    offset = torch.stack([flow[:, 0] / ((w - 1.0) / 2.0), flow[:, 1] / ((h - 1.0) / 2.0)], -1)
    return F.grid_sample(img, grid + offset, mode="bilinear", padding_mode="border", align_corners=True)


def pixel_coords(b: int, h: int, w: int, device) -> torch.Tensor:
    """(B, 2, h, w) with channel 0 = x, channel 1 = y."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack([xs, ys]).float()[None].repeat(b, 1, 1, 1)


def conv_prelu(cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.PReLU(cout))


# ---- context encoder (RAFT's small encoder, instance norm) ----

class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        mid = cout // 4
        self.conv1 = nn.Conv2d(cin, mid, 1)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1)
        self.conv3 = nn.Conv2d(mid, cout, 1)
        self.norm1, self.norm2, self.norm3 = nn.InstanceNorm2d(mid), nn.InstanceNorm2d(mid), nn.InstanceNorm2d(cout)
        self.downsample = None if stride == 1 else nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride),
                                                                 nn.InstanceNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        y = F.relu(self.norm3(self.conv3(y)))
        return F.relu((x if self.downsample is None else self.downsample(x)) + y)


class ContextEncoder(nn.Module):
    """Features at 1/8 scale for the correlation volume."""

    def __init__(self, out_dim: int = 84):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, stride=2, padding=3)
        self.norm1 = nn.InstanceNorm2d(32)
        self.layer1 = nn.Sequential(Bottleneck(32, 32, 1), Bottleneck(32, 32))
        self.layer2 = nn.Sequential(Bottleneck(32, 64, 2), Bottleneck(64, 64))
        self.layer3 = nn.Sequential(Bottleneck(64, 96, 2), Bottleneck(96, 96))
        self.conv2 = nn.Conv2d(96, out_dim, 1)

    def forward(self, x):
        x = F.relu(self.norm1(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


# ---- all-pairs correlation, looked up from both frames ----

class BidirCorrelation:
    def __init__(self, fmap0: torch.Tensor, fmap1: torch.Tensor, levels: int, radius: int):
        b, dim, h, w = fmap0.shape
        corr = fmap0.flatten(2).transpose(1, 2) @ fmap1.flatten(2) / torch.sqrt(torch.tensor(dim).float())
        corr = corr.view(b, h, w, h, w)
        self.radius = radius
        self.pyramid = [corr.reshape(b * h * w, 1, h, w)]  # for each pixel of frame 0, its scores over frame 1
        self.pyramid_t = [corr.permute(0, 3, 4, 1, 2).reshape(b * h * w, 1, h, w)]  # and the other way
        for _ in range(levels - 1):
            self.pyramid.append(F.avg_pool2d(self.pyramid[-1], 2, stride=2))
            self.pyramid_t.append(F.avg_pool2d(self.pyramid_t[-1], 2, stride=2))

    @staticmethod
    def _sample(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        h, w = volume.shape[-2:]
        grid = torch.stack([2 * coords[..., 0] / (w - 1) - 1, 2 * coords[..., 1] / (h - 1) - 1], -1)
        return F.grid_sample(volume, grid, align_corners=True)

    def __call__(self, coords0: torch.Tensor, coords1: torch.Tensor):
        r = self.radius
        b, _, h, w = coords0.shape
        d = torch.linspace(-r, r, 2 * r + 1, device=coords0.device)
        # RAFT's window order: the first window axis shifts x, the second shifts y
        window = torch.stack(torch.meshgrid(d, d, indexing="ij"), -1).view(1, 2 * r + 1, 2 * r + 1, 2)
        outs = []
        for pyramid, coords in ((self.pyramid, coords0), (self.pyramid_t, coords1)):
            centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
            levels = [self._sample(vol, centre / 2**i + window).view(b, h, w, -1) for i, vol in enumerate(pyramid)]
            outs.append(torch.cat(levels, -1).permute(0, 3, 1, 2).contiguous().float())
        return outs[0], outs[1]


class UpdateBlock(nn.Module):
    """Refines (feature, flow pair) from correlation; works at 1/8 scale and rescales around that."""

    def __init__(self, cdim: int, scale: int | None = None, hidden: int = 76, flow_dim: int = 20,
                 corr_dim: int = 64, fc_dim: int = 68, levels: int = 4, radius: int = 3):
        super().__init__()
        self.scale = scale
        corr_planes = levels * (2 * radius + 1) ** 2
        self.convc1 = nn.Conv2d(2 * corr_planes, corr_dim, 1)
        self.convf1 = nn.Conv2d(4, flow_dim * 2, 7, padding=3)
        self.convf2 = nn.Conv2d(flow_dim * 2, flow_dim, 3, padding=1)
        self.conv = nn.Conv2d(corr_dim + flow_dim, fc_dim, 3, padding=1)

        def two_convs(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(hidden, cout, 3, padding=1))

        self.gru = two_convs(fc_dim + 4 + cdim, hidden)  # named "gru" in AMT, though it is two plain convs
        self.feat_head = two_convs(hidden, cdim)
        self.flow_head = two_convs(hidden, 4)

    def forward(self, feat, flow, corr):
        lrelu = F.leaky_relu
        if self.scale is not None:
            feat = resize(feat, 1 / self.scale)
        c = lrelu(self.convc1(corr), 0.1)
        f = lrelu(self.convf2(lrelu(self.convf1(flow), 0.1)), 0.1)
        x = lrelu(self.conv(torch.cat([c, f], 1)), 0.1)
        out = self.gru(torch.cat([x, flow, feat], 1))
        d_feat, d_flow = self.feat_head(out), self.flow_head(out)
        if self.scale is not None:
            d_feat = resize(d_feat, self.scale)
            d_flow = self.scale * resize(d_flow, self.scale)
        return d_feat, d_flow


# ---- IFRNet feature pyramid and decoders ----

class SideResBlock(nn.Module):
    """IFRNet's residual block: the last `side` channels get extra convolutions in between."""

    def __init__(self, ch: int, side: int):
        super().__init__()
        self.side = side
        self.conv1 = conv_prelu(ch, ch)
        self.conv2 = conv_prelu(side, side)
        self.conv3 = conv_prelu(ch, ch)
        self.conv4 = conv_prelu(side, side)
        self.conv5 = nn.Conv2d(ch, ch, 3, 1, 1)
        self.prelu = nn.PReLU(ch)

    def forward(self, x):
        out = self.conv1(x)
        out = self.conv3(torch.cat([out[:, : -self.side], self.conv2(out[:, -self.side :])], 1))
        out = self.conv5(torch.cat([out[:, : -self.side], self.conv4(out[:, -self.side :])], 1))
        return self.prelu(x + out)


class Pyramid(nn.Module):
    def __init__(self, channels):
        super().__init__()
        prev = 3
        for i, ch in enumerate(channels, 1):
            self.add_module(f"pyramid{i}", nn.Sequential(conv_prelu(prev, ch, 3, 2, 1), conv_prelu(ch, ch)))
            prev = ch
        self.levels = len(channels)

    def forward(self, x):
        feats = []
        for i in range(1, self.levels + 1):
            x = getattr(self, f"pyramid{i}")(x)
            feats.append(x)
        return feats


def _warped_inputs(ft, f0, f1, flow0, flow1) -> torch.Tensor:
    """What a finer decoder sees: the middle feature, both frames' features warped to it, and the flows."""
    return torch.cat([ft, backward_warp(f0, flow0), backward_warp(f1, flow1), flow0, flow1], 1)


def _decoder_block(cin: int, width: int, side: int, cout: int) -> nn.Sequential:
    """conv to `width`, a side-channel residual block, then x2 up-sampling to `cout` channels."""
    return nn.Sequential(conv_prelu(cin, width), SideResBlock(width, side), nn.ConvTranspose2d(width, cout, 4, 2, 1))


class InitDecoder(nn.Module):
    """Coarsest scale: flows from the middle frame to both frames, and its feature, from the two features and t."""

    def __init__(self, cin: int, cout: int, side: int):
        super().__init__()
        self.convblock = _decoder_block(cin * 2 + 1, cin * 2, side, cout + 4)

    def forward(self, f0, f1, embt):
        t = embt.repeat(1, 1, *f0.shape[2:])
        out = self.convblock(torch.cat([f0, f1, t], 1))
        return out[:, 0:2], out[:, 2:4], out[:, 4:]


class IntermediateDecoder(nn.Module):
    """One scale finer: residual flows on the up-sampled ones, from the features warped to the middle frame."""

    def __init__(self, cin: int, cout: int, side: int):
        super().__init__()
        self.convblock = _decoder_block(cin * 3 + 4, cin * 3, side, cout + 4)

    def forward(self, ft, f0, f1, flow0, flow1):
        out = self.convblock(_warped_inputs(ft, f0, f1, flow0, flow1))
        return out[:, 0:2] + 2.0 * resize(flow0, 2.0), out[:, 2:4] + 2.0 * resize(flow1, 2.0), out[:, 4:]


class MultiFlowDecoder(nn.Module):
    """Full scale: `num_flows` flow pairs, each with a blend mask and an RGB residual."""

    def __init__(self, cin: int, side: int, num_flows: int = 3):
        super().__init__()
        self.num_flows = num_flows
        self.convblock = _decoder_block(cin * 3 + 4, cin * 3, side, 8 * num_flows)

    def forward(self, ft, f0, f1, flow0, flow1):
        n = self.num_flows
        out = self.convblock(_warped_inputs(ft, f0, f1, flow0, flow1))
        d0, d1, mask, res = torch.split(out, [2 * n, 2 * n, n, 3 * n], 1)
        flow0 = d0 + 2.0 * resize(flow0, 2.0).repeat(1, n, 1, 1)
        flow1 = d1 + 2.0 * resize(flow1, 2.0).repeat(1, n, 1, 1)
        return flow0, flow1, torch.sigmoid(mask), res


def combine_flows(comb_block: nn.Module, img0, img1, flow0, flow1, mask, res, mean):
    """Warp both images along every flow pair, blend each pair by its mask, average, and add the learned
    correction of `comb_block`."""
    b, c, h, w = flow0.shape
    n = c // 2
    img0 = img0.unsqueeze(1).expand(b, n, 3, h, w).reshape(-1, 3, h, w)
    img1 = img1.unsqueeze(1).expand(b, n, 3, h, w).reshape(-1, 3, h, w)
    mask = mask.reshape(-1, 1, h, w)
    warped = (mask * backward_warp(img0, flow0.reshape(-1, 2, h, w))
              + (1 - mask) * backward_warp(img1, flow1.reshape(-1, 2, h, w))
              + mean.repeat_interleave(n, 0) + res.reshape(-1, 3, h, w))
    warped = warped.view(b, n, 3, h, w)
    return warped.mean(1) + comb_block(warped.view(b, n * 3, h, w))


class AMTS(nn.Module):
    """AMT-S with VBench's settings (corr_radius 3, corr_lvls 4, num_flows 3)."""

    def __init__(self, corr_radius: int = 3, corr_levels: int = 4, num_flows: int = 3,
                 channels=(20, 32, 44, 56), skip_channels: int = 20):
        super().__init__()
        self.radius, self.corr_levels = corr_radius, corr_levels
        self.feat_encoder = ContextEncoder(84)
        self.encoder = Pyramid(channels)
        self.decoder4 = InitDecoder(channels[3], channels[2], skip_channels)
        self.decoder3 = IntermediateDecoder(channels[2], channels[1], skip_channels)
        self.decoder2 = IntermediateDecoder(channels[1], channels[0], skip_channels)
        self.decoder1 = MultiFlowDecoder(channels[0], skip_channels, num_flows)
        kw = dict(levels=corr_levels, radius=corr_radius)
        self.update4 = UpdateBlock(channels[2], None, **kw)
        self.update3 = UpdateBlock(channels[1], 2, **kw)
        self.update2 = UpdateBlock(channels[0], 4, **kw)
        self.comb_block = nn.Sequential(nn.Conv2d(3 * num_flows, 6 * num_flows, 3, 1, 1), nn.PReLU(6 * num_flows),
                                        nn.Conv2d(6 * num_flows, 3, 3, 1, 1))

    @staticmethod
    def _lookup(corr, coords, flow0, flow1, embt, downsample: int):
        """Correlation where the middle-frame flows point (scaled to frame-to-frame flows, assuming linear
        motion), read at 1/8 scale."""
        if downsample != 1:
            flow0 = resize(flow0, 1 / downsample) / downsample
            flow1 = resize(flow1, 1 / downsample) / downsample
        c0, c1 = corr(coords + flow1 / embt, coords + flow0 / (1.0 - embt))
        return torch.cat([c0, c1], 1), torch.cat([flow0, flow1], 1)

    def _refine(self, update, corr, coords, flow0, flow1, ft, embt, downsample: int):
        c, flows = self._lookup(corr, coords, flow0, flow1, embt, downsample)
        d_ft, d_flow = update(ft, flows, c)
        return flow0 + d_flow[:, 0:2], flow1 + d_flow[:, 2:4], ft + d_ft

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor, scale_factor: float = 1.0):
        """The frame at time embt (B, 1, 1, 1) in (0, 1) between img0 and img1, clamped to [0, 1]."""
        mean = torch.cat([img0, img1], 2).mean((1, 2, 3), keepdim=True)
        img0, img1 = img0 - mean, img1 - mean
        x0 = resize(img0, scale_factor) if scale_factor != 1.0 else img0
        x1 = resize(img1, scale_factor) if scale_factor != 1.0 else img1
        b, _, h, w = x0.shape
        coords = pixel_coords(b, h // 8, w // 8, img0.device)
        fmap0, fmap1 = self.feat_encoder(torch.cat([x0, x1])).chunk(2)
        corr = BidirCorrelation(fmap0, fmap1, self.corr_levels, self.radius)
        f0, f1 = self.encoder(x0), self.encoder(x1)  # scales 1/2, 1/4, 1/8, 1/16

        flow0, flow1, ft = self.decoder4(f0[3], f1[3], embt)
        flow0, flow1, ft = self._refine(self.update4, corr, coords, flow0, flow1, ft, embt, 1)
        flow0, flow1, ft = self.decoder3(ft, f0[2], f1[2], flow0, flow1)
        flow0, flow1, ft = self._refine(self.update3, corr, coords, flow0, flow1, ft, embt, 2)
        flow0, flow1, ft = self.decoder2(ft, f0[1], f1[1], flow0, flow1)
        flow0, flow1, ft = self._refine(self.update2, corr, coords, flow0, flow1, ft, embt, 4)
        flow0, flow1, mask, res = self.decoder1(ft, f0[0], f1[0], flow0, flow1)

        if scale_factor != 1.0:
            up = 1.0 / scale_factor
            flow0, flow1 = resize(flow0, up) * up, resize(flow1, up) * up
            mask, res = resize(mask, up), resize(res, up)
        return combine_flows(self.comb_block, img0, img1, flow0, flow1, mask, res, mean).clamp(0, 1)
