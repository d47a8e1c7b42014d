"""Motion-module families (engine/families.py): each family's T2V grid is the one its authors' recipe builds
with diffusers, a preset that names a family gets its sampling, given values win with a note, and a family
evs cannot sample as meant is one line."""

import json
from pathlib import Path

import pytest
import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler, LCMScheduler

from evs_cli.engine.families import FAMILIES
from evs_cli.engine.loaders.sources import SD15_CONFIG
from evs_cli.engine.pipeline import preset_grids
from evs_cli.engine.preset import load_preset, parse_override
from evs_cli.errors import ConfigError
from helpers import evs, make_clip

SD15 = json.loads((SD15_CONFIG / "scheduler" / "scheduler_config.json").read_text())


def _recipe(name):
    """The scheduler each family's authors sample with, built as their recipe builds it."""
    if name.startswith("lightning-"):  # AnimateDiff-Lightning's card: from the SD model's own config
        return EulerDiscreteScheduler.from_config(SD15, timestep_spacing="trailing", beta_schedule="linear"), \
            int(name.split("-")[1])
    if name == "animatelcm":  # diffusers' AnimateLCM examples: LCM from the SD model's config, linear betas
        return LCMScheduler.from_config(SD15, beta_schedule="linear"), 10
    # AnimateDiff's inference configs: a fresh DDIM scheduler with these kwargs, 25 steps
    return DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="linear",
                         steps_offset=1, clip_sample=False), 25


@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_familys_grid_is_the_one_its_recipe_builds(name):
    preset = load_preset("vc2").with_overrides([parse_override(f"t2v.family={name}"), parse_override("tV=1"),
                                                 parse_override("nV=1")])  # lightning-1 has one step
    grid = preset_grids(preset, SD15)["t2v"]
    scheduler, steps = _recipe(name)
    scheduler.set_timesteps(steps)
    assert list(grid.timesteps) == [int(t) for t in scheduler.timesteps]
    assert torch.allclose(grid.alphas_cumprod, scheduler.alphas_cumprod.double(), atol=0, rtol=1e-6)
    assert preset.t2v.guidance == {"lightning": 1.0, "animatelcm": 2.0}.get(name.split("-")[0], 7.5)


def test_the_shipped_presets_keep_the_papers_lightning_pair_and_given_values_win_with_a_note():
    vc2 = load_preset("vc2")
    assert vc2.t2v.family is None and preset_grids(vc2, SD15)["t2v"].timesteps == \
        preset_grids(vc2.with_overrides([parse_override("t2v.family=lightning-8")]), SD15)["t2v"].timesteps
    v2 = vc2.with_overrides([parse_override("t2v.family=v2"), parse_override("t2v.guidance=3")])
    assert v2.t2v.guidance == 3 and v2.t2v.steps == 25 and v2.t2v.scheduler == "DDIMScheduler"
    assert v2.family_notes == ("t2v.guidance = 3 overrides family v2's 7.5",)
    assert v2.schedule_params().T_V == 25  # tV and nV now count steps of v2's grid


def test_an_unknown_family_is_one_line_and_animatelcm_asks_for_its_lora():
    lcm = load_preset("vc2").with_overrides([parse_override("t2v.family=animatelcm")])
    assert lcm.family_notes == ("family animatelcm is meant with its spatial LoRA, AnimateLCM_sd15_t2v_lora"
                                ".safetensors, at 0.8 in t2v.loras, and t2v.loras is empty",)
    assert preset_grids(lcm, SD15)["t2v"].sampler == "lcm"
    with pytest.raises(ConfigError, match=r"t2v\.family must be one of lightning-1, .*, got 'v9'"):
        load_preset("vc2").with_overrides([parse_override("t2v.family=v9")])


def test_the_dry_run_shows_the_familys_sampling_and_warns_of_a_contradiction(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--dry-run", "--out", tmp_path / "out", "--set", "t2v.family=v3", "--set", "tV=8",
            "--set", "t2v.steps=30")
    assert r.returncode == 0, r.stderr
    assert "t2v sampling: DDIMScheduler " in r.stdout and ", 30 steps, guidance 7.5 (family v3)" in r.stdout
    assert "sdedit at 8/30" in r.stdout
    assert r.stderr.strip().splitlines() == ["evs: warning: t2v.steps = 30 overrides family v3's 25"]
    plain = evs("refine", src, "--dry-run", "--out", tmp_path / "out")
    assert "(no t2v.family: the preset's own, which is lightning-8's)" in plain.stdout


@pytest.mark.parametrize("source,family", [
    ("ByteDance/AnimateDiff-Lightning:animatediff_lightning_4step_diffusers.safetensors", "lightning-4"),
    ("/models/animatediff_lightning_2step_comfyui.safetensors", "lightning-2"),
    ("/models/mm_sd_v15_v2.ckpt", "v2"), ("/models/v3_sd15_mm.ckpt", "v3"), ("/models/mm_sd_v14.ckpt", "v1"),
    ("guoyww/animatediff-motion-adapter-v1-5-2", "v2"), ("wangfuyun/AnimateLCM", "animatelcm"),
    ("/models/AnimateLCM_sd15_t2v.ckpt", "animatelcm"), ("/lightning-4step/other.ckpt", None),
])
def test_a_family_is_told_by_its_name(source, family):
    from evs_cli.engine.loaders.family_detect import detect

    assert (detect(source) or (None,))[0] == family


@pytest.mark.parametrize("shape,family", [(dict(motion_max_seq_length=24, use_motion_mid_block=False), "v1"),
                                          (dict(motion_max_seq_length=32, use_motion_mid_block=False), "v3"),
                                          (dict(motion_max_seq_length=32, use_motion_mid_block=True), "v2")])
def test_a_family_is_told_by_the_shape_of_its_weights_without_loading_them(tmp_path, shape, family):
    """From a .safetensors header, read without torch (written here for an SD1.5-size adapter built on the
    meta device: the header is all that is read), and from a folder's config.json."""
    from diffusers import MotionAdapter

    from evs_cli.engine.loaders.family_detect import detect, sampling_note

    with torch.device("meta"):
        adapter = MotionAdapter(**shape)  # SD1.5 widths, no memory
    header = {k: {"dtype": "F32", "shape": list(v.shape), "data_offsets": [0, 0]}
              for k, v in adapter.state_dict().items()}
    raw = json.dumps(header).encode()
    (tmp_path / "motion.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "config.json").write_text(json.dumps(dict(adapter.config)))
    assert detect(str(tmp_path / "motion.safetensors")) == (family, "by the shape of its weights")
    assert detect(str(tmp_path / "folder"))[0] == family
    preset = load_preset("vc2").with_overrides([{"models": {"t2v": str(tmp_path / "motion.safetensors")}}])
    note = sampling_note(preset)
    if family == "v2":  # v2's shape is also Lightning's (distilled from it): the preset's Lightning pair stands
        assert note is None
    else:
        assert note == (f"T2V {tmp_path / 'motion.safetensors'} is, by the shape of its weights, a {family} motion "
                        "module, which its authors sample with DDIMScheduler over 25 steps at guidance 7.5; this "
                        f"preset samples it as lightning-8 (--set t2v.family={family} samples it as they do)")
        named = preset.with_overrides([parse_override(f"t2v.family={family}")])
        assert sampling_note(named) is None


def test_a_module_of_other_widths_is_no_family_and_the_toy_world_runs_without_a_warning(tmp_path):
    from evs_cli.engine.loaders.family_detect import detect
    from evs_cli.engine.loaders.sources import resolve_source

    toy = resolve_source("evs:toy/models/t2v")
    assert (Path(toy) / "config.json").is_file() and detect(toy) is None
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--preset", "toy", "--dry-run", "--out", tmp_path / "out")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_the_shipped_pair_gets_no_note():
    from evs_cli.engine.loaders.family_detect import sampling_note

    assert sampling_note(load_preset("vc2")) is None and sampling_note(load_preset("ad2")) is None
