"""The models as denoisers (engine/denoisers.py), on tiny random models: classifier-free guidance as one batched
[uncond; cond] pass, skipped at guidance 1 and at a timestep outside the model's guidance interval (then the call
is exactly the unguided one, half the UNet's work)."""

import pytest
import torch

PROMPT = "a blue square moving"


SHORT = {"tI": 6, "tT2V": 3, "tV": 2, "nV": 1}  # 4 + 3 T2I calls, at timesteps 101 81 61 41 and 41 21 1


def _x0(frames=2, seed=0):
    return torch.randn(frames, 4, 16, 16, generator=torch.Generator().manual_seed(seed))


def _t2i_passes(tiny_models, engine, x0):
    """(timestep, frames in the batch) of every T2I UNet pass of one refinement."""
    seen = []
    hook = tiny_models.unet.register_forward_hook(
        lambda module, args, out: seen.append((int(args[1].reshape(-1)[0]), args[0].shape[0])))
    try:
        out = engine.refine_latents(x0, PROMPT, seed=0)[0]
    finally:
        hook.remove()
    return seen, out


def test_guidance_applies_only_at_the_timesteps_inside_its_interval(make_engine, tiny_models):
    x0 = _x0()
    passes, _ = _t2i_passes(tiny_models, make_engine("vc2", **SHORT, **{"t2i.guidance_interval": "[50,800]"}), x0)
    assert passes == [(101, 4), (81, 4), (61, 4), (41, 2), (41, 2), (21, 2), (1, 2)]  # [uncond; cond] only inside


@pytest.mark.parametrize("interval,same_as", [("[0,999]", {}), ("[990,999]", {"t2i.guidance": 1.0})])
def test_an_interval_holding_every_call_changes_nothing_and_one_holding_none_is_guidance_one(
        make_engine, tiny_models, interval, same_as):
    x0 = _x0(seed=3)
    _, limited = _t2i_passes(tiny_models, make_engine("vc2", **SHORT, **{"t2i.guidance_interval": interval}), x0)
    _, reference = _t2i_passes(tiny_models, make_engine("vc2", **SHORT, **same_as), x0)
    assert torch.equal(limited, reference)
    _, guided = _t2i_passes(tiny_models, make_engine("vc2", **SHORT), x0)
    assert torch.equal(guided, reference) == (not same_as)  # guidance does change the result
