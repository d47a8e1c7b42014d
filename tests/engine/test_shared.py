"""One video under many schedules (engine.shared): each result equals the schedule run alone, value for value,
and the model calls made are those of the distinct stage prefixes, counted at the UNets."""

import torch

from evs_cli.engine.schedule import seeded_noise
from evs_cli.engine.shared import NoiseStream, refine_shared
from evs_cli.engine.stages import count_calls

PROMPT = "a blue square moving"
GRID = [dict(tI=8, tT2V=3, tV=2, nV=1), dict(tI=8, tT2V=3, tV=3, nV=2), dict(tI=8, tT2V=3, tV=3, nV=3),
        dict(tI=8, tT2V=4, tV=2, nV=2), dict(tI=6, tT2V=3, tV=2, nV=1), dict(composition="t2i", tI=8),
        dict(composition="t2i-t2v", tI=8, tV=2), dict(composition="t2v", tV=3),
        dict(tI=8, tT2V=3, tV=2, nV=1, **{"t2i.guidance": 3.0})]


def _x0(frames=4):
    return torch.randn(frames, 4, 16, 16, generator=torch.Generator().manual_seed(3))


def test_noise_stream_draws_what_seeded_noise_draws_and_skips_ahead():
    a, b = NoiseStream(7, "cpu"), seeded_noise(7, "cpu")
    draws = [b((2, 3)) for _ in range(3)]
    assert all(torch.equal(a((2, 3)), d) for d in draws)
    c = NoiseStream(7, "cpu")
    c.skip_to(2, (2, 3))
    assert torch.equal(c((2, 3)), draws[2])


def test_every_setting_equals_its_schedule_run_alone(make_engine):
    engines = [make_engine("vc2", **g) for g in GRID]
    run = refine_shared(engines, _x0(), PROMPT, seed=5)
    for g, e, got in zip(GRID, engines, run.latents):
        alone, _ = e.refine_latents(_x0(), PROMPT, seed=5)
        assert torch.equal(got, alone), g


def test_an_lcm_sampled_block_after_a_shared_prefix_draws_the_noise_it_draws_alone(make_engine):
    """AnimateLCM re-noises between its calls: the noise stream must continue from the shared T2I stage."""
    grid = [dict(tV=4, nV=2), dict(tV=4, nV=3), dict(tV=6, nV=2)]
    engines = [make_engine("vc2", tI=6, tT2V=2, **{"t2v.family": "animatelcm"}, **g) for g in grid]
    run = refine_shared(engines, _x0(), PROMPT, seed=2)
    assert run.reused == 2
    for e, got in zip(engines, run.latents):
        assert torch.equal(got, e.refine_latents(_x0(), PROMPT, seed=2)[0])


def test_the_calls_made_are_the_distinct_prefixes_calls_counted_at_the_unets(make_engine, tiny_models):
    engines = [make_engine("vc2", **{**g, "runtime.t2i_chunk": 64}) for g in GRID]
    seen = {"t2i": 0, "t2v": 0}
    hooks = [tiny_models.unet.register_forward_hook(lambda *a: seen.__setitem__("t2i", seen["t2i"] + 1)),
             tiny_models.motion_unet.register_forward_hook(lambda *a: seen.__setitem__("t2v", seen["t2v"] + 1))]
    try:
        run = refine_shared(engines, _x0(), PROMPT, seed=0)
    finally:
        for h in hooks:
            h.remove()
    # Independently of the code under test: the T2I stage before the block is shared by the EVS settings with
    # the same (tI, tT2V) and guidance: (8, 3) three times -> once (the fourth has other guidance); T2I+T2V's
    # first stage is T2I alone's whole schedule; everything else runs in full.
    alone = [count_calls(e.stages) for e in engines]
    shared_t2i = 2 * (8 - 3 + 1)  # two EVS settings reuse the first one's 6-call T2I stage
    t2i_full = engines[5].stages[0]  # composition t2i: the same T2I stage as t2i-t2v's first
    expected_t2i = sum(a["t2i"] for a in alone) - shared_t2i - t2i_full.calls
    assert seen == {"t2i": expected_t2i, "t2v": sum(a["t2v"] for a in alone)}
    assert run.calls["t2i"] == seen["t2i"] and run.calls["t2v"] == seen["t2v"]
    assert run.reused == 3


def test_stages_that_run_through_other_temporal_windows_are_not_shared(make_engine):
    engines = [make_engine("vc2", composition="t2v", tV=3, **{"runtime.t2v_window": w, "runtime.t2v_overlap": o})
               for w, o in ((16, 4), (2, 1))]
    run = refine_shared(engines, _x0(), PROMPT, seed=1)
    assert run.reused == 0 and not torch.equal(run.latents[0], run.latents[1])
    for e, got in zip(engines, run.latents):
        assert torch.equal(got, e.refine_latents(_x0(), PROMPT, seed=1)[0])
