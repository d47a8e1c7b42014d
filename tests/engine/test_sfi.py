"""Selective Feature Injection (engine/sfi.py): what a layer records, how injection mixes queries and takes the
inverted keys and values in both guidance halves, which layers it reaches, and its features per window; on tiny
random models. Each value test here was checked to fail under a one-line mutation of the code it pins."""


import pytest
import torch
import torch.nn.functional as F
from test_schedule import _t2v  # the schedule's T2V denoiser on the "sfi" preset

from evs_cli.engine.schedule import run_stage
from evs_cli.engine.sfi import FeatureState, InjectingSelfAttention, feature_injection, select_modules
from evs_cli.engine.stages import Injection, Stage

PROMPT = "a red circle moving over blue stripes"


def _x0(frames, seed, h=16, w=16):
    return torch.randn(frames, 4, h, w, generator=torch.Generator().manual_seed(seed))


def _attention_by_hand(attn, q, k, v):
    b, n, c = q.shape
    heads = attn.heads
    split = [x.view(b, -1, heads, c // heads).transpose(1, 2) for x in (q, k, v)]
    out = F.scaled_dot_product_attention(*split).transpose(1, 2).reshape(b, -1, c)
    return attn.to_out[1](attn.to_out[0](out))


@pytest.mark.parametrize("gamma", [0.8, 0.3])
def test_injection_mixes_queries_by_gamma_and_takes_the_inverted_keys_and_values(tiny_models, gamma):
    """Attn(g Q_inv + (1 - g) Q, K_inv, V_inv), with Q != Q_inv, in both CFG halves: the inversion branch
    ran unguided on F frames, the denoising batch is [uncond; cond] of 2F, and frame i of each half gets
    frame i's recorded features."""
    name, attn = next(iter(select_modules(tiny_models.motion_unet, ["up.1"], "attn").items()))
    frames, tokens, dim = 3, 10, attn.to_q.in_features
    g = torch.Generator().manual_seed(0)
    h_inv = torch.randn(frames, tokens, dim, generator=g)
    h = torch.randn(2 * frames, tokens, dim, generator=g)  # uncond and cond halves differ
    with torch.no_grad():
        qi, ki, vi = attn.to_q(h_inv), attn.to_k(h_inv), attn.to_v(h_inv)
        state = FeatureState(mode="inject", t=249, window=0, gamma=gamma)
        state.store[(name, state.key)] = (qi, ki, vi)
        got = InjectingSelfAttention(name, state)(attn, h)
        q = attn.to_q(h)
        both = lambda x: torch.cat([x, x])  # noqa: E731 - each half is matched frame by frame
        expected = _attention_by_hand(attn, gamma * both(qi) + (1 - gamma) * q, both(ki), both(vi))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(qi, q[:frames], atol=1e-3)


def test_recording_stores_this_layers_own_q_k_v(tiny_models):
    name, attn = next(iter(select_modules(tiny_models.motion_unet, ["up.1"], "attn").items()))
    h = torch.randn(2, 10, attn.to_q.in_features, generator=torch.Generator().manual_seed(1))
    state = FeatureState(mode="record", t=374, window=1, record_levels={374})
    with torch.no_grad():
        InjectingSelfAttention(name, state)(attn, h)
        for got, proj in zip(state.store[(name, (374, 1))], (attn.to_q, attn.to_k, attn.to_v)):
            torch.testing.assert_close(got, proj(h), rtol=0, atol=0)


def test_injection_goes_only_into_spatial_self_attention(tiny_models):
    """Against a listing written out by hand for the tiny UNet (down 0 and up 1 have cross-attention
    blocks, plus the mid block), not against the selector the code uses."""
    spatial = ["down_blocks.0.attentions.0.transformer_blocks.0.attn1",
               "down_blocks.0.attentions.1.transformer_blocks.0.attn1",
               "mid_block.attentions.0.transformer_blocks.0.attn1",
               "up_blocks.1.attentions.0.transformer_blocks.0.attn1",
               "up_blocks.1.attentions.1.transformer_blocks.0.attn1",
               "up_blocks.1.attentions.2.transformer_blocks.0.attn1"]
    unet = tiny_models.motion_unet
    for layers, expected in ((["all"], spatial), (["up.1"], spatial[3:]), (["mid", "down.0"], spatial[:3]),
                             (["up.1.2"], spatial[5:])):
        state = FeatureState()
        with feature_injection(unet, layers, [], state):
            injecting = sorted(n for n, mod in unet.named_modules()
                               if isinstance(getattr(mod, "processor", None), InjectingSelfAttention))
        assert injecting == sorted(expected), layers
        assert not any(isinstance(getattr(mod, "processor", None), InjectingSelfAttention)
                       for _, mod in unet.named_modules())  # restored afterwards


def test_features_are_keyed_by_window_for_videos_longer_than_one(make_engine):
    """20 frames run as windows 0-15 and 4-19: each window must get back its own recorded features."""
    e = make_engine("sfi", **{"t2v.guidance": 1.0})
    model = e.denoisers(PROMPT)["t2v"]
    z = _x0(20, seed=3)
    state = model.features
    with feature_injection(model.unet, ["all"], [], state):
        state.t, state.record_levels, state.mode = 249, {249}, "record"
        recorded = model(z, 249, guided=False)
        assert {key for _, key in state.store} == {(249, 0), (249, 1)}
        state.mode, state.gamma = "inject", 1.0
        injected = model(z, 249)
    torch.testing.assert_close(injected, recorded, rtol=0, atol=0)




def test_sfi_gamma_one_all_layers_reproduces_the_recorded_branch(make_engine, tiny_models):
    _, model = _t2v(make_engine)
    z = _x0(16, seed=3)
    other = _x0(16, seed=4)
    state = model.features
    with feature_injection(model.unet, ["all"], [], state):
        state.t, state.record_levels, state.mode = 249, {249}, "record"
        recorded = model(z, 249, guided=False)
        assert len(state.store) == len(select_modules(model.unet, ["all"], "attn"))
        state.mode, state.gamma = "inject", 1.0
        injected = model(z, 249)
        moved = model(other, 249)
    assert torch.equal(injected, recorded)
    plain = model(other, 249)
    assert (moved - plain).abs().max() > 1e-4  # injection really changes what the layers compute
    assert state.store == {} and state.mode == "off"  # features freed when the block ends


def test_sfi_gamma_zero_no_layers_equals_plain_inversion_denoising(make_engine):
    _, model = _t2v(make_engine)
    x0 = _x0(16, seed=5)
    plain, _ = run_stage(x0, Stage("t2v", 3, 3, "invert"), model, noise=None)
    empty, rep = run_stage(x0, Stage("t2v", 3, 3, "invert", Injection(0.0, (), ())), model, noise=None)
    torch.testing.assert_close(empty, plain, rtol=0, atol=0)
    assert rep.inversion_calls == 4


def test_sfi_injects_both_cfg_branches(make_engine):
    _, model = _t2v(make_engine, guidance=3.0)
    x0 = _x0(16, seed=6)
    out, rep = run_stage(x0, Stage("t2v", 3, 2, "invert", Injection(0.5, ("up.1",), ("up.1",))), model, noise=None)
    assert out.shape == x0.shape and torch.isfinite(out).all() and rep.calls == 2
