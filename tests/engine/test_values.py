"""Values, not shapes, of the parts of the engine that are our own: the noise each stage draws, Selective
Feature Injection, the temporal windows, and the whole EVS schedule against diffusers' schedulers.

Each test here was checked to fail under a one-line mutation of the code it pins (see the issue note).
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from diffusers import DDIMInverseScheduler, DDIMScheduler, EulerDiscreteScheduler, MotionAdapter, UNetMotionModel

from evs_cli.engine.diffusion import split_prediction
from evs_cli.engine.schedule import invert
from evs_cli.engine.sfi import FeatureState, InjectingSelfAttention, feature_injection, select_modules
from evs_cli.engine.windows import blend, blend_weights, plan_windows

PROMPT = "a red circle moving over blue stripes"


def _x0(frames, seed, h=16, w=16):
    return torch.randn(frames, 4, h, w, generator=torch.Generator().manual_seed(seed))


# ---- windows -------------------------------------------------------------------------------------

@pytest.mark.parametrize("frames,starts", [(16, [0]), (17, [0, 1]), (28, [0, 12]), (40, [0, 12, 24]),
                                           (64, [0, 12, 24, 36, 48])])
def test_window_starts_step_by_the_window_less_the_overlap(frames, starts):
    assert plan_windows(frames, 16, 4) == [(s, min(s + 16, frames)) for s in starts]


@pytest.mark.parametrize("frames", [28, 40, 64])
def test_blend_weights_ramp_linearly_across_each_four_frame_overlap(frames):
    windows = plan_windows(frames, 16, 4)
    weights = blend_weights(windows, frames)
    table = torch.zeros(len(windows), frames)
    for k, ((s, e), w) in enumerate(zip(windows, weights)):
        table[k, s:e] = w
    expected = torch.zeros_like(table)
    for k, (s, e) in enumerate(windows):
        expected[k, s:e] = 1.0
    for k in range(len(windows) - 1):  # frames shared by windows k and k+1: 0.8 0.6 0.4 0.2 / 0.2 0.4 0.6 0.8
        shared = range(windows[k + 1][0], windows[k][1])
        assert len(shared) == 4
        for j, f in enumerate(shared):
            expected[k, f], expected[k + 1, f] = 0.8 - 0.2 * j, 0.2 + 0.2 * j
    torch.testing.assert_close(table, expected, rtol=0, atol=1e-6)


def test_blend_weights_of_two_windows_sharing_fifteen_frames():
    """17 frames: windows 0-15 and 1-16; frame f in 1..15 takes (16 - f)/16 of the first, f/16 of the second."""
    w0, w1 = blend_weights(plan_windows(17, 16, 4), 17)
    f = torch.arange(1, 16, dtype=torch.float32)
    torch.testing.assert_close(w0, torch.cat([torch.ones(1), (16 - f) / 16]), rtol=0, atol=1e-6)
    torch.testing.assert_close(w1, torch.cat([f / 16, torch.ones(1)]), rtol=0, atol=1e-6)


def test_blend_is_the_weighted_sum_of_window_outputs():
    windows = plan_windows(28, 16, 4)
    outs = [torch.full((16, 2), 10.0), torch.full((16, 2), 20.0)]
    got = blend(outs, windows, 28)[:, 0]
    expected = torch.tensor([10.0] * 12 + [12.0, 14.0, 16.0, 18.0] + [20.0] * 12)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


# ---- noise ---------------------------------------------------------------------------------------

class _Spy:
    """A denoiser that records the latent and level of every call and the output it returned."""

    def __init__(self, inner, name, log):
        self.inner, self.name, self.log = inner, name, log

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def __call__(self, z, t, guided=True):
        out = self.inner(z, t, guided)
        self.log.append((self.name, t, z.clone(), out.clone()))
        return out


def test_each_sdedit_stage_draws_fresh_noise_in_stage_order(make_engine):
    """The documented draw order: one draw of the latent's shape per SDEdit stage, T2I, T2V, T2I. The noise
    each stage used is recovered from its first model input, z = sqrt(a) x0_in + sqrt(1 - a) eps."""
    e = make_engine("vc2", tI=5, tT2V=2, tV=3, nV=2)
    log = []
    real = e.denoisers
    e.denoisers = lambda prompt: {k: _Spy(v, k, log) for k, v in real(prompt).items()}
    x0 = _x0(3, seed=1)
    e.refine_latents(x0, PROMPT, seed=11)
    gen = torch.Generator().manual_seed(11)
    expected = [torch.randn(x0.shape, generator=gen) for _ in range(3)]
    calls = [5 - 2 + 1, 2, 2]  # stage call counts; stage boundaries in the log
    starts = [0, calls[0], calls[0] + calls[1]]
    x_in = x0
    for k, start in enumerate(starts):
        name, t, z, _ = log[start]
        grid = e.grids[name]
        a = grid.alpha(t)
        used = (z - a**0.5 * x_in) / (1 - a) ** 0.5
        torch.testing.assert_close(used, expected[k], rtol=1e-4, atol=1e-4)
        last_name, last_t, last_z, last_out = log[start + calls[k] - 1]
        x_in, _ = split_prediction(last_out, last_z, e.grids[last_name].alpha(last_t), "epsilon")
    assert not torch.equal(expected[0], expected[2]) and not torch.equal(expected[1], expected[2])


# ---- Selective Feature Injection -----------------------------------------------------------------

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


# ---- inversion -----------------------------------------------------------------------------------

@pytest.mark.parametrize("top,calls", [(124, 1), (374, 3), (999, 8)])
def test_invert_equals_ddim_inverse_scheduler_driven_as_diffusers_pipelines_drive_it(make_engine, tiny_models,
                                                                                     top, calls):
    """The T2V's 8-step trailing grid: DDIMInverseScheduler steps 124, 249, ..., each from the level below
    (the clean latent under 124) and evaluates the model at the level it steps to. evs does the same."""
    model = make_engine("sfi", **{"t2v.guidance": 1.0}).denoisers(PROMPT)["t2v"]
    x0 = _x0(6, seed=31)
    inverse = DDIMInverseScheduler.from_config(tiny_models.scheduler_config, beta_schedule="linear",
                                               timestep_spacing="trailing", set_alpha_to_one=True)
    inverse.set_timesteps(8)
    z = x0
    with torch.no_grad():
        for t in inverse.timesteps[:calls]:
            z = inverse.step(model(z, int(t), guided=False), t, z).prev_sample
        ours, n = invert(x0, top, model)
    assert int(inverse.timesteps[calls - 1]) == top and n == calls
    torch.testing.assert_close(ours, z, rtol=1e-5, atol=1e-5)


# ---- the whole schedule against diffusers' schedulers --------------------------------------------

def _embed(m, text):
    ids = m.tokenizer(text, padding="max_length", max_length=m.tokenizer.model_max_length, truncation=True,
                      return_tensors="pt").input_ids
    return m.text_encoder(ids)[0]


@torch.no_grad()
def algorithm_1(m, motion_unet, x0, tI, tT2V, tV, nV, t2i_guidance, t2v_guidance, neg, seed, invert=False):
    """EVS as the paper's Algorithm 1, with diffusers' DDIMScheduler (T2I, 50 leading steps) and
    EulerDiscreteScheduler (T2V, 8 trailing steps) doing every step, and diffusers' own
    UNetMotionModel.from_unet2d copy as T2V. Each stage hands over its last step's pred_original_sample.

    How the inputs are aligned with evs: the same clean latents x0; the three SDEdit noises drawn from a
    CPU generator seeded with `seed`, in stage order (T2I, T2V, T2I), each of x0's shape; the Euler
    latent x0 + sigma * eps is the DDIM latent divided by sqrt(alpha), and scale_model_input multiplies
    it back, so both UNets see the same input. With `invert`, the [T2V] block starts from
    DDIMInverseScheduler's inversion (unguided, as diffusers' pipelines drive it) instead of noise, and
    draws no noise, so the second T2I stage takes the second draw.
    """
    gen = torch.Generator().manual_seed(seed)
    frames = x0.shape[0]
    cond = _embed(m, PROMPT).expand(frames, -1, -1)
    ddim = DDIMScheduler.from_config(m.scheduler_config, timestep_spacing="leading", steps_offset=1)
    ddim.set_timesteps(50)
    euler = EulerDiscreteScheduler.from_config(m.scheduler_config, timestep_spacing="trailing",
                                               beta_schedule="linear")

    def guided(unet, z, t, guidance, uncond_text, video=False):
        def run(x, enc):
            if video:
                return unet(x.permute(1, 0, 2, 3)[None], t, encoder_hidden_states=enc).sample[0].permute(1, 0, 2, 3)
            return unet(x, t, encoder_hidden_states=enc).sample
        if guidance == 1.0:
            return run(z, cond)
        uncond = _embed(m, uncond_text).expand(frames, -1, -1)
        u, c = run(z, uncond), run(z, cond)
        return u + guidance * (c - u)

    def t2i(x, start, calls):
        timesteps = ddim.timesteps[50 - start : 50 - start + calls]
        z = ddim.add_noise(x, torch.randn(x.shape, generator=gen), timesteps[:1])
        for t in timesteps:
            step = ddim.step(guided(m.unet, z, t, t2i_guidance, neg), t, z)
            z, x_hat = step.prev_sample, step.pred_original_sample
        return x_hat

    def t2v(x, start, calls):
        euler.set_timesteps(8)
        euler.set_begin_index(8 - start)
        timesteps = euler.timesteps[8 - start : 8 - start + calls]
        if invert:
            inverse = DDIMInverseScheduler.from_config(m.scheduler_config, beta_schedule="linear",
                                                       timestep_spacing="trailing", set_alpha_to_one=True)
            inverse.set_timesteps(8)
            z = x
            for t in inverse.timesteps[:start]:
                z = inverse.step(guided(motion_unet, z, t, 1.0, "", video=True), t, z).prev_sample
            z = z / float(inverse.alphas_cumprod[int(timesteps[0])]) ** 0.5  # DDIM form -> Euler form
        else:
            z = euler.add_noise(x, torch.randn(x.shape, generator=gen), timesteps[:1])
        for t in timesteps:
            eps = guided(motion_unet, euler.scale_model_input(z, t), t, t2v_guidance, "", video=True)
            step = euler.step(eps, t, z)
            z, x_hat = step.prev_sample, step.pred_original_sample
        return x_hat

    x = t2i(x0, tI, tI - tT2V + 1)  # T2I from tI down to and including tT2V
    x = t2v(x, tV, nV)  # the [T2V] block: nV calls from tV
    return t2i(x, tT2V, tT2V)  # T2I again from tT2V (Eq. 10), to the end


@pytest.mark.parametrize("params,t2v_guidance,mode", [((6, 3, 3, 2), 1.0, "sdedit"), ((5, 2, 4, 4), 2.5, "sdedit"),
                                                      ((4, 4, 2, 1), 1.0, "sdedit"), ((5, 2, 3, 2), 1.0, "invert"),
                                                      ((5, 3, 2, 2), 2.5, "invert")])
def test_evs_schedule_equals_algorithm_1_on_diffusers_schedulers(make_engine, tiny_models, tiny_paths, params,
                                                                  t2v_guidance, mode):
    """SDEdit and inverted [T2V] blocks (SFI with no layer and gamma 0 injects nothing, so the reference
    needs no injection code), with and without T2V guidance, to 1e-4."""
    tI, tT2V, tV, nV = params
    neg = "blurry"
    e = make_engine("vc2", tI=tI, tT2V=tT2V, tV=tV, nV=nV, mode=mode, gamma=0.0, layers="[]",
                    **{"t2v.guidance": t2v_guidance, "t2i.negative_prompt": neg})
    x0 = _x0(4, seed=21)
    ours, reports = e.refine_latents(x0, PROMPT, seed=9)
    oracle = UNetMotionModel.from_unet2d(copy.deepcopy(tiny_models.unet),
                                         MotionAdapter.from_pretrained(tiny_paths["adapter"])).eval()
    ref = algorithm_1(tiny_models, oracle, x0, tI, tT2V, tV, nV, 7.5, t2v_guidance, neg, seed=9,
                      invert=mode == "invert")
    assert [r.calls for r in reports] == [tI - tT2V + 1, nV, tT2V]
    assert reports[1].inversion_calls == (tV + 1 if mode == "invert" else 0)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
