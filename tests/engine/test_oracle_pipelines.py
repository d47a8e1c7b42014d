"""Degenerate schedules against diffusers' own pipelines, on tiny random models.

How the inputs are aligned:
* both sides start from the same clean latents x0 and the same Gaussian noise tensor (drawn from a
  seeded CPU generator exactly as the pipeline's randn_tensor draws it);
* Img2Img gets x0 as a 4-channel `image` (it treats it as latents) and strength tI/T_I; its DDIM
  scheduler uses set_alpha_to_one=True, which changes only the last step so that it returns the last
  call's predicted x0, the hand-off METHOD.md fixes for every stage (intermediate steps are identical);
* AnimateDiffVideoToVideo gets `latents` already noised by its Euler scheduler's add_noise at the
  start level and strength tV/T_V; its last Euler step (sigma -> 0) returns the predicted x0 itself;
* the oracle AnimateDiff pipeline uses diffusers' own UNetMotionModel.from_unet2d copy, while evs
  runs its weight-sharing motion UNet: the test also shows the sharing changes nothing.
"""

import copy

import pytest
import torch
from diffusers import (
    AnimateDiffVideoToVideoPipeline,
    DDIMScheduler,
    EulerDiscreteScheduler,
    MotionAdapter,
    StableDiffusionImg2ImgPipeline,
    UNetMotionModel,
)

PROMPT = "a red circle moving over blue stripes"


def _x0_and_noise(frames, h=16, w=16, seed=7):
    x0 = torch.randn(frames, 4, h, w, generator=torch.Generator().manual_seed(seed))
    noise = torch.randn(frames, 4, h, w, generator=torch.Generator().manual_seed(seed + 1))
    return x0, noise


@pytest.mark.parametrize("tI", [20, 7])
def test_t2i_only_matches_img2img_pipeline(make_engine, tiny_models, tI):
    engine = make_engine("t2i", tI=tI, **{"t2i.negative_prompt": "''"})
    m = tiny_models
    x0, noise = _x0_and_noise(3)
    ours, reports = engine.refine_latents(x0, PROMPT, noise=lambda shape: noise.clone())
    assert reports[0].calls == tI

    sched = DDIMScheduler.from_config(m.scheduler_config, timestep_spacing="leading", steps_offset=1,
                                      set_alpha_to_one=True)
    pipe = StableDiffusionImg2ImgPipeline(vae=m.vae, text_encoder=m.text_encoder, tokenizer=m.tokenizer,
                                          unet=m.unet, scheduler=sched, safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    gen = torch.Generator().manual_seed(8)  # the pipeline draws randn(x0.shape) from it: equal to `noise`
    ref = pipe([PROMPT] * 3, image=x0, strength=tI / 50, num_inference_steps=50, guidance_scale=7.5,
               generator=gen, output_type="latent").images
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("tV", [3, 8])
def test_t2v_only_matches_animatediff_video2video(make_engine, tiny_models, tiny_paths, tV):
    engine = make_engine("t2v", tV=tV)
    m = tiny_models
    x0, noise = _x0_and_noise(6)
    ours, reports = engine.refine_latents(x0, PROMPT, noise=lambda shape: noise.clone())
    assert reports[0].calls == tV

    sched = EulerDiscreteScheduler.from_config(m.scheduler_config, timestep_spacing="trailing",
                                               beta_schedule="linear")
    sched.set_timesteps(8)
    t_start = sched.timesteps[8 - tV : 8 - tV + 1]
    latents = sched.add_noise(x0, noise, t_start)  # Euler form: x0 + sigma * noise
    oracle_unet = UNetMotionModel.from_unet2d(copy.deepcopy(m.unet), MotionAdapter.from_pretrained(tiny_paths["adapter"]))
    pipe = AnimateDiffVideoToVideoPipeline(vae=m.vae, text_encoder=m.text_encoder, tokenizer=m.tokenizer,
                                           unet=oracle_unet, motion_adapter=None, scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    ref = pipe(prompt=PROMPT, latents=latents.permute(1, 0, 2, 3).unsqueeze(0), strength=tV / 8,
               num_inference_steps=8, guidance_scale=1.0, height=128, width=128, output_type="latent").frames
    torch.testing.assert_close(ours, ref[0].permute(1, 0, 2, 3), rtol=1e-4, atol=1e-4)
