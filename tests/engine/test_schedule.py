"""The EVS schedule, SFI, seeds, windows and weight sharing, on tiny random models."""

import pytest
import torch
from diffusers import DDIMScheduler

from evs_cli.engine.diffusion import split_prediction
from evs_cli.engine.loaders.motion_unet import unique_parameter_bytes
from evs_cli.engine.schedule import invert
from evs_cli.engine.windows import plan_windows

PROMPT = "a blue square moving"


def _x0(frames=4, seed=0):
    return torch.randn(frames, 4, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_grids_come_from_the_loaded_scheduler_config(make_engine):
    e = make_engine("vc2")
    ref = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").alphas_cumprod
    assert e.grids["t2i"].timesteps[0] == 981
    assert abs(e.grids["t2i"].alpha(381) - float(ref[381])) < 1e-7
    assert e.grids["t2v"].timesteps == (999, 874, 749, 624, 499, 374, 249, 124)


@pytest.mark.parametrize("tI,tT2V,tV,nV", [(20, 8, 3, 2), (10, 10, 4, 1), (5, 1, 8, 8)])
def test_evs_makes_exactly_the_calls_of_the_schedule(make_engine, tI, tT2V, tV, nV):
    e = make_engine("vc2", tI=tI, tT2V=tT2V, tV=tV, nV=nV)
    _, reports = e.refine_latents(_x0(), PROMPT, seed=0)
    assert sum(r.calls for r in reports if r.model == "t2i") == tI + 1
    assert sum(r.calls for r in reports if r.model == "t2v") == nV
    assert reports[0].timesteps[-1] == reports[2].timesteps[0]  # Eq. 10 restarts T2I at t_T2V


def test_evs_with_sfi_adds_tV_plus_one_inversion_calls(make_engine):
    e = make_engine("sfi", tV=3, nV=2, layers="[all]")
    _, reports = e.refine_latents(_x0(), PROMPT, seed=0)
    assert [r.inversion_calls for r in reports] == [0, 4, 0]
    assert [r.calls for r in reports] == [13, 2, 8]


def test_model_calls_are_counted_at_the_unet(make_engine, tiny_models):
    """No model call beyond the schedule: count UNet forward passes (one per call, one window, no CFG in T2V)."""
    e = make_engine("vc2", **{"runtime.t2i_chunk": 64})
    seen = {"t2i": 0, "t2v": 0}
    h1 = tiny_models.unet.register_forward_hook(lambda *a: seen.__setitem__("t2i", seen["t2i"] + 1))
    h2 = tiny_models.motion_unet.register_forward_hook(lambda *a: seen.__setitem__("t2v", seen["t2v"] + 1))
    try:
        e.refine_latents(_x0(), PROMPT, seed=0)
    finally:
        h1.remove(), h2.remove()
    assert seen == {"t2i": 21, "t2v": 2}


def test_same_seed_same_output_other_seed_differs(make_engine):
    e = make_engine("vc2")
    a, _ = e.refine_latents(_x0(), PROMPT, seed=1)
    b, _ = e.refine_latents(_x0(), PROMPT, seed=1)
    c, _ = e.refine_latents(_x0(), PROMPT, seed=2)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3


def test_weights_stored_once(tiny_models):
    m = tiny_models
    assert m.motion_unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q.weight.data_ptr() == \
        m.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q.weight.data_ptr()
    motion_only = sum(p.numel() * p.element_size() for n, p in m.motion_unet.named_parameters() if "motion_modules" in n)
    assert motion_only > 0
    assert unique_parameter_bytes(m.unet, m.motion_unet) == unique_parameter_bytes(m.unet) + motion_only


def test_forty_frames_through_windowed_t2v(make_engine):
    e = make_engine("t2v", tV=2)
    x0 = _x0(40, seed=8)
    out, reports = e.refine_latents(x0, PROMPT, seed=0)
    assert out.shape == x0.shape and torch.isfinite(out).all()
    # continuity across borders: the frame-to-frame change at window borders is like elsewhere
    d = (out[1:] - out[:-1]).abs().mean(dim=(1, 2, 3))
    borders = [s - 1 for s, _ in plan_windows(40, 16, 4)[1:]] + [e - 1 for _, e in plan_windows(40, 16, 4)[:-1]]
    assert d[borders].max() < 2.0 * d.median()


def _t2v(make_engine, guidance=1.0):
    e = make_engine("sfi", **{"t2v.guidance": guidance})
    return e, e.denoisers(PROMPT)["t2v"]


def test_inversion_reaches_the_start_level(make_engine):
    _, model = _t2v(make_engine)
    x0 = _x0(16, seed=9)
    z, calls = invert(x0, 374, model)
    assert calls == 3
    # denoising the inverted latent once more predicts a clean latent near x0
    x0_hat, _ = split_prediction(model(z, 374), z, model.grid.alpha(374), "epsilon")
    assert (x0_hat - x0).abs().mean() < (z - x0).abs().mean()


def test_inversion_evaluates_the_level_it_steps_to_unless_told_otherwise(make_engine):
    """diffusers' convention (the default) never evaluates the distilled T2V at t = 0; the alternative that
    scripts/compare_inversion.py measures evaluates each level it steps from, the clean latent at t = 0."""
    _, model = _t2v(make_engine)
    seen = []

    class Recording:
        grid, features = model.grid, model.features

        def __call__(self, z, t, guided=True):
            seen.append(t)
            return model(z, t, guided=guided)

    x0 = _x0(16, seed=9)
    grid = sorted(model.grid.timesteps)
    invert(x0, 374, Recording())
    assert seen == [t for t in grid if t <= 374]
    seen.clear()
    invert(x0, 374, Recording(), evaluate_at="current")
    assert seen == [0] + [t for t in grid if t < 374]
    with pytest.raises(ValueError, match="'target' or 'current'"):
        invert(x0, 374, Recording(), evaluate_at="targte")  # a typo must not silently pick a convention
