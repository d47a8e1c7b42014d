"""Values, not shapes, of the schedule (engine/schedule.py): the noise each stage draws, inversion, and the whole
EVS schedule against diffusers' schedulers. (Windows: test_windows.py; SFI: test_sfi.py.)

Each test here was checked to fail under a one-line mutation of the code it pins (see the issue note).
"""

import copy

import pytest
import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler, EulerDiscreteScheduler, MotionAdapter, UNetMotionModel

from evs_cli.engine.diffusion import split_prediction
from evs_cli.engine.schedule import invert

PROMPT = "a red circle moving over blue stripes"


def _x0(frames, seed, h=16, w=16):
    return torch.randn(frames, 4, h, w, generator=torch.Generator().manual_seed(seed))


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
