"""DOVER plumbing: the module layout that DOVER.pth needs, the views as DOVER samples them, the fusion.

The network itself was checked once against DOVER's own code (same random weights, same views: equal
scores, and equal fragments and frame indices); DOVER is not an installable package, so that check is
not repeated here. These tests pin the parts a wrong layout or sampling would break."""

import numpy as np
import pytest
import torch

from evs_cli.errors import EvsError
from evs_cli.eval.dover import (
    MEAN,
    STD,
    fragments,
    frame_indices,
    fuse,
    load_dover,
    views,
)
from evs_cli.eval.dover_net import DOVER, fragment_distance
from helpers import save_half


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DOVER().eval()


def test_layout_loads_the_published_state_dict_keys(model):
    sd = model.state_dict()
    assert len(sd) == 381
    assert sum(p.numel() for p in model.parameters()) == 56_218_302
    # Swin-T technical branch: fragment bias tables in stages 0-2 only, and the index buffers
    assert sd["technical_backbone.layers.2.blocks.5.attn.fragment_position_bias_table"].shape == (15 * 13 * 13, 12)
    assert "technical_backbone.layers.3.blocks.0.attn.fragment_position_bias_table" not in sd
    assert sd["technical_backbone.layers.0.blocks.0.attn.relative_position_index"].shape == (392, 392)
    assert sd["technical_backbone.patch_embed.proj.weight"].shape == (96, 3, 2, 4, 4)
    # ConvNeXt-T aesthetic branch inflated "131": temporal kernels 1, 3, 1
    assert [sd[f"aesthetic_backbone.stages.0.{j}.dwconv.weight"].shape[2] for j in range(3)] == [1, 3, 1]
    assert sd["aesthetic_backbone.downsample_layers.3.1.weight"].shape == (768, 384, 1, 2, 2)
    assert sd["technical_head.fc_hid.weight"].shape == (64, 768, 1, 1, 1)


def test_relative_position_index_matches_swin():
    from evs_cli.eval.dover_net import WindowAttention3D

    idx = WindowAttention3D(96, (8, 7, 7), 3, False).relative_position_index
    # token 0 is (0,0,0), the last is (7,6,6): offset (-7,-6,-6) -> (0,0,0) in the table; the reverse is the end
    assert idx[0, -1] == 0 and idx[-1, 0] == 15 * 13 * 13 - 1 and idx[5, 5] == 7 * 169 + 6 * 13 + 6


def test_fragment_gate_is_the_distance_between_fragments():
    # 56x56 tokens, a 7x7 grid of fragments of 8 tokens, windows of 7 tokens
    d = fragment_distance(8, 56, 56, (8, 7, 7), (0, 0, 0), "cpu")
    assert d.shape == (64, 392, 392)
    assert d[0].max() == 0  # the first window lies inside fragment (0, 0)
    # window (0, 1): columns 7..13; column 7 is in fragment 0, columns 8..13 in fragment 1
    w = d[1].view(8, 7, 7, 8, 7, 7)
    assert w[0, 0, 0, 0, 0, 1] == 1 and w[0, 0, 1, 0, 0, 2] == 0


def _denormalise(v):
    return v * torch.tensor(STD).view(1, 3, 1, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1, 1)


def test_short_video_views_follow_dovers_sampler():
    frames = np.zeros((16, 224, 224, 3), np.uint8)
    for i in range(16):
        frames[i] = 10 * i + 5
    tech, aes = views(frames)
    assert tech.shape == (3, 3, 32, 224, 224) and aes.shape == (1, 3, 32, 224, 224)
    seen = _denormalise(tech)[:, 0, :, 100, 100].round()
    expected = torch.tensor([[10 * ((2 * k + 5 * c) % 16) + 5 for k in range(32)] for c in range(3)], dtype=torch.float)
    torch.testing.assert_close(seen, expected)  # 3 parts of 16 // 3 = 5 frames, 32 frames 2 apart, wrapped
    assert torch.all(_denormalise(aes)[0, 0, :, 100, 100].round() == 5)  # 16 < 32 parts: frame 0, 32 times


def test_fragments_of_a_224_video_are_the_video_itself():
    video = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (3, 32, 224, 224), dtype=np.uint8))
    out = fragments(video, torch.Generator().manual_seed(0))
    assert torch.equal(out, video.float())  # 7 cells of exactly 32 pixels: no room for random offsets


def test_large_video_fragments_are_seeded_and_inside_their_cells():
    video = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (3, 32, 448, 448), dtype=np.uint8))
    a = fragments(video, torch.Generator().manual_seed(0))
    b = fragments(video, torch.Generator().manual_seed(0))
    c = fragments(video, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    patch = a[:, 0, 32:64, 64:96]  # fragment (1, 2) comes from cell rows 64..127, cols 128..191
    found = [(y, x) for y in range(64, 97) for x in range(128, 161)
             if torch.equal(video[:, 0, y : y + 32, x : x + 32].float(), patch)]
    assert len(found) == 1


def test_long_video_frames_come_from_three_parts():
    idx = frame_indices(300, 32, 3, 2, np.random.default_rng(0))
    parts = idx.reshape(3, 32)
    assert all(np.all(np.diff(p) == 2) for p in parts)
    assert [p[0] // 100 for p in parts] == [0, 1, 2]


def test_fusion_is_dovers():
    assert fuse(0.1107, -0.08285) == pytest.approx(0.5)
    assert fuse(0.2, -0.08285) > 0.5 > fuse(0.0, -0.08285)


def test_checkpoint_loading_and_errors(tmp_path, monkeypatch, model):
    save_half(model, tmp_path / "DOVER.pth")
    loaded = load_dover(str(tmp_path / "DOVER.pth"))
    key = "technical_head.fc_last.weight"
    torch.testing.assert_close(loaded.state_dict()[key], model.state_dict()[key].half().float())
    monkeypatch.delenv("EVS_DOVER", raising=False)
    with pytest.raises(EvsError, match="dover skipped: no DOVER weights.*--dover"):
        load_dover()
    torch.save({"x": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(EvsError, match="bad.pth is not a DOVER checkpoint"):
        load_dover(str(tmp_path / "bad.pth"))
