"""VBench motion smoothness: our AMT-S against VBench's own network code, and the frame handling of
`motion_smoothness.py` with interpolators whose answers are known."""

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from evs_cli.errors import EvsError
from evs_cli.eval.amt import AMTS
from evs_cli.eval.vbench_metrics import load_amt, motion_smoothness


def _vbench_amt_s():
    """VBench's AMT-S class, loaded from the installed `vbench` wheel without running its package
    __init__ (which needs torchvision, decord and friends). None when vbench is not installed."""
    spec = importlib.util.find_spec("vbench")
    if spec is None:
        return None
    root = Path(spec.submodule_search_locations[0])
    saved = sys.modules.get("vbench")
    stub = types.ModuleType("vbench")
    stub.__path__ = [str(root)]
    sys.modules["vbench"] = stub
    try:
        f = importlib.util.spec_from_file_location("vbench_amt_s", root / "third_party/amt/networks/AMT-S.py")
        mod = importlib.util.module_from_spec(f)
        f.loader.exec_module(mod)
        return mod.Model
    finally:
        if saved is None:
            for name in [n for n in sys.modules if n == "vbench" or n.startswith("vbench.")]:
                del sys.modules[name]
        else:
            sys.modules["vbench"] = saved


VBenchAMT = _vbench_amt_s()
needs_vbench = pytest.mark.skipif(VBenchAMT is None, reason="pip install --no-deps vbench==0.1.5 (see .ci/run)")


def _perturbed_weights(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: v + 0.02 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
            for k, v in model.state_dict().items()}


@needs_vbench
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_amt_s_matches_vbench(scale):
    torch.manual_seed(0)
    ref = VBenchAMT(corr_radius=3, corr_lvls=4, num_flows=3).eval()
    ours = AMTS().eval()
    assert set(ref.state_dict()) == set(ours.state_dict())  # so the published amt-s.pth loads into ours
    state = _perturbed_weights(ref)
    ref.load_state_dict(state)
    ours.load_state_dict(state)
    x0, x1 = torch.rand(1, 3, 256, 320), torch.rand(1, 3, 256, 320)
    t = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        expected = ref(x0, x1, t, scale_factor=scale, eval=True)["imgt_pred"]
        flows = ref(x0, x1, t)["flow0_pred"][0]  # (VBench's own flow output only works at scale 1)
        got = ours(x0, x1, t, scale_factor=scale)
    assert flows.abs().mean() > 0.5  # the flows really move pixels, so warping is exercised
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_amt_s_layout_and_batching():
    model = AMTS().eval()
    sd = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == 2_990_543
    assert sd["feat_encoder.conv2.weight"].shape == (84, 96, 1, 1)
    assert sd["update4.convc1.weight"].shape == (64, 2 * 4 * 7 * 7, 1, 1)  # both directions, 4 levels, radius 3
    assert sd["decoder1.convblock.2.weight"].shape == (60, 24, 4, 4)  # 3 flows x (2 + 2 + 1 + 3) channels
    assert sd["comb_block.0.weight"].shape == (18, 9, 3, 3)
    model.load_state_dict(_perturbed_weights(model))
    a, b = torch.rand(3, 3, 128, 160), torch.rand(3, 3, 128, 160)
    t = torch.full((3, 1, 1, 1), 0.5)
    with torch.no_grad():
        batched = model(a, b, t)
        single = torch.cat([model(a[i : i + 1], b[i : i + 1], t[:1]) for i in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)  # batching pairs changes nothing


class Midpoint(torch.nn.Module):
    """An interpolator with a known answer: the mean of the two frames."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))
        self.calls = []

    def forward(self, a, b, t, scale_factor=1.0):
        self.calls.append((a.shape, float(t.flatten()[0])))
        return (a + b) / 2


def test_static_video_scores_one():
    still = np.full((9, 120, 130, 3), 77, np.uint8)
    assert motion_smoothness(still, Midpoint()) == 1.0


def test_even_frames_are_kept_and_odd_frames_are_judged():
    # even frames grey 100, odd frames 130: the midpoint of two even frames misses each odd one by 30
    f = np.full((8, 120, 130, 3), 100, np.uint8)
    f[1::2] = 130
    model = Midpoint()
    assert motion_smoothness(f, model) == pytest.approx((255 - 30) / 255)
    shapes = [s for s, _ in model.calls]
    assert sum(s[0] for s in shapes) == 3  # 4 kept frames, 3 pairs
    assert all(s[-2:] == (128, 144) for s in shapes)  # padded to multiples of 16
    assert {t for _, t in model.calls} == {0.5}


def test_truncates_to_uint8_like_vbench():
    f = np.zeros((3, 128, 128, 3), np.uint8)
    f[2] = 1  # midpoint 0.5 / 255 truncates to 0, so odd frame 0 matches exactly
    assert motion_smoothness(f, Midpoint()) == 1.0


def test_random_amt_runs_on_an_odd_sized_video():
    torch.manual_seed(0)
    f = np.random.default_rng(0).integers(0, 255, (5, 120, 136, 3), dtype=np.uint8)
    score = motion_smoothness(f, AMTS().eval())
    assert 0.0 < score < 1.0


def test_too_short_or_too_small_video_is_a_clear_error():
    with pytest.raises(EvsError, match="at least 3 frames"):
        motion_smoothness(np.zeros((2, 128, 128, 3), np.uint8), Midpoint())
    with pytest.raises(EvsError, match="at least 113x113 pixels, got 64x64"):
        motion_smoothness(np.zeros((5, 64, 64, 3), np.uint8), Midpoint())


def test_loads_a_checkpoint_in_amts_published_format(tmp_path):
    model = AMTS()
    state = _perturbed_weights(model)
    torch.save({"state_dict": state}, tmp_path / "amt-s.pth")
    loaded = load_amt(str(tmp_path / "amt-s.pth"))
    torch.testing.assert_close(loaded.state_dict()["comb_block.0.weight"], state["comb_block.0.weight"])


def test_missing_or_wrong_checkpoint_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("EVS_AMT", raising=False)
    monkeypatch.delenv("VBENCH_CACHE_DIR", raising=False)
    with pytest.raises(EvsError, match="motion_smoothness skipped: no AMT-S weights.*--amt"):
        load_amt()
    # VBench's own cache folder is found without a flag
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    (tmp_path / "vb" / "amt_model").mkdir(parents=True)
    torch.save({"state_dict": AMTS().state_dict()}, tmp_path / "vb" / "amt_model" / "amt-s.pth")
    assert isinstance(load_amt(), AMTS)
    torch.save({"state_dict": {"x": torch.zeros(1)}}, tmp_path / "bad.pth")
    with pytest.raises(EvsError, match="bad.pth is not an AMT-S checkpoint"):
        load_amt(str(tmp_path / "bad.pth"))


def test_eval_skips_the_metric_not_the_video_when_frames_are_too_small(tmp_path):
    from evs_cli.io.video import write_mp4
    from evs_cli.toy.data import render, spec_for
    from helpers import evs

    write_mp4(torch.from_numpy(render(spec_for(2))), tmp_path / "small.mp4", 8)  # 64x64
    torch.save({"state_dict": AMTS().state_dict()}, tmp_path / "amt-s.pth")
    r = evs("eval", tmp_path / "small.mp4", "--amt", tmp_path / "amt-s.pth", "--json", tmp_path / "m.json")
    assert r.returncode == 0, r.stderr
    assert "small.mp4: motion_smoothness needs frames of at least 113x113 pixels, got 64x64" in r.stderr
    import json

    row = json.loads((tmp_path / "m.json").read_text())["videos"][0]
    assert "motion_smoothness" not in row and "warp_error" in row and "error" not in row
