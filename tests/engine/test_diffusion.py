"""Grids and single steps (engine/diffusion.py) against diffusers' schedulers (the oracle), and an LCM stage as LCMScheduler samples it."""

import pytest
import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler, EulerDiscreteScheduler

from evs_cli.engine.diffusion import CLEAN, Grid, split_prediction, to_level

SD15 = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
            set_alpha_to_one=False, steps_offset=1, num_train_timesteps=1000)


def t2i_scheduler():
    return DDIMScheduler(**SD15, timestep_spacing="leading")


def lightning_scheduler():
    return EulerDiscreteScheduler.from_config(DDIMScheduler(**SD15).config, timestep_spacing="trailing",
                                              beta_schedule="linear")


def test_grids_read_from_scheduler_configs():
    t2i = Grid.from_scheduler(t2i_scheduler(), 50)
    assert t2i.timesteps[:3] == (981, 961, 941) and t2i.timesteps[-1] == 1 and t2i.steps == 50
    assert t2i.levels(20, 20)[0] == 381  # s_I = 0.4 starts at t = 381, like img2img with strength 0.4
    t2v = Grid.from_scheduler(lightning_scheduler(), 8)
    assert t2v.timesteps == (999, 874, 749, 624, 499, 374, 249, 124)
    assert t2v.levels(3, 3) == [374, 249, 124]
    # the two grids have different alpha_bar at the same t: scaled_linear vs linear betas
    assert abs(t2i.alpha(374) - t2v.alpha(374)) > 0.01


def test_t2i_step_matches_ddim():
    sched = t2i_scheduler()
    grid = Grid.from_scheduler(sched, 50)
    g = torch.Generator().manual_seed(0)
    z, eps = torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 4, 8, 8, generator=g)
    for t in (981, 381, 21):
        ref = sched.step(eps, t, z, eta=0.0)
        x0, e = split_prediction(eps, z, grid.alpha(t), grid.prediction_type)
        z_next = to_level(x0, e, grid.alpha(grid.below(t)))
        torch.testing.assert_close(x0, ref.pred_original_sample, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(z_next, ref.prev_sample, rtol=1e-5, atol=1e-5)


def test_t2v_step_matches_lightning_euler():
    sched = lightning_scheduler()
    grid = Grid.from_scheduler(sched, 8)
    g = torch.Generator().manual_seed(1)
    z, eps = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)
    for i, t in enumerate(grid.timesteps):
        sched.set_timesteps(8)
        sched._step_index = i  # Euler keeps its position as state; put it at level t
        a, a_next = grid.alpha(t), grid.alpha(grid.below(t))
        x_euler = z / a**0.5  # Euler latents are x0 + sigma * eps = z / sqrt(alpha_bar)
        ref = sched.step(eps, sched.timesteps[i], x_euler)
        x0, e = split_prediction(eps, z, a, grid.prediction_type)
        torch.testing.assert_close(x0, ref.pred_original_sample, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(to_level(x0, e, a_next) / a_next**0.5, ref.prev_sample, rtol=1e-4, atol=1e-4)


def test_inversion_step_matches_ddim_inverse():
    inv = DDIMInverseScheduler(**{**SD15, "set_alpha_to_one": True})
    inv.set_timesteps(50)
    grid = Grid.from_scheduler(t2i_scheduler(), 50)
    g = torch.Generator().manual_seed(2)
    z, eps = torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 4, 8, 8, generator=g)
    for t_from, t_to in ((CLEAN, 1), (1, 21), (361, 381)):
        ref = inv.step(eps, t_to, z).prev_sample  # DDIMInverseScheduler moves from t_to - 20 up to t_to
        x0, e = split_prediction(eps, z, grid.alpha(t_from), grid.prediction_type)
        torch.testing.assert_close(to_level(x0, e, grid.alpha(t_to)), ref, rtol=1e-5, atol=1e-5)


def test_v_prediction_round_trip():
    g = torch.Generator().manual_seed(3)
    x0, eps = torch.randn(1, 4, 4, 4, generator=g), torch.randn(1, 4, 4, 4, generator=g)
    a = 0.3
    z = to_level(x0, eps, a)
    v = a**0.5 * eps - (1 - a) ** 0.5 * x0
    x0_hat, eps_hat = split_prediction(v, z, a, "v_prediction")
    torch.testing.assert_close(x0_hat, x0)
    torch.testing.assert_close(eps_hat, eps)


@pytest.mark.parametrize("scaling", [10.0, 0.01])
def test_an_lcm_stage_is_lcm_schedulers_multistep_sampling(scaling):
    """AnimateLCM's sampler: run_stage over the whole LCM grid, with a fixed fake model and one seeded noise
    stream, gives what LCMScheduler.step gives drawing its re-noising from the same stream. At LCM's default
    timestep scaling (10) the boundary condition's skip term is below 1e-5 on every level of the grid; at 0.01
    it is a few percent, so a sampler without it (or with it wrong) differs."""
    from diffusers import LCMScheduler

    from evs_cli.engine.schedule import run_stage, seeded_noise
    from evs_cli.engine.stages import Stage

    sched = LCMScheduler.from_config(DDIMScheduler(**SD15).config, beta_schedule="linear", timestep_scaling=scaling)
    grid = Grid.from_scheduler(sched, 4)
    assert grid.sampler == "lcm" and len(grid.timesteps) == 4
    w = torch.randn(4, 4, 1, 1, generator=torch.Generator().manual_seed(3)) * 0.3

    class Model:  # eps = a fixed linear map of the latent, different at every level
        features, name = None, "t2v"

        def __init__(self):
            self.grid = grid

        def activate(self):
            pass

        def __call__(self, z, t, guided=True):
            return torch.einsum("oi,fihw->fohw", w[:, :, 0, 0], z) * (1 + t / 1000)

    x0 = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    ours, rep = run_stage(x0, Stage("t2v", 4, 4, "sdedit"), Model(), seeded_noise(7, "cpu"))
    gen = torch.Generator().manual_seed(7)
    sched.set_timesteps(4)
    t0 = int(sched.timesteps[0])
    z = sched.add_noise(x0, torch.randn(x0.shape, generator=gen), torch.tensor([t0]))
    for t in sched.timesteps:
        z, denoised = sched.step(Model()(z, int(t)), t, z, generator=gen, return_dict=False)
    assert rep.calls == 4
    torch.testing.assert_close(ours, denoised, rtol=1e-5, atol=1e-5)
