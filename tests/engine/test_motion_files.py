"""Motion modules as users have them: the original AnimateDiff layout of each family (v1: 24 positions, no mid
block; v2: 32 and a mid block; v3: 32, no mid block), written from tiny random adapters by inverting the key
mapping and checked against diffusers' own converter; configs beside a file from older diffusers; and a
motion mid block through the whole schedule, equal to diffusers' UNetMotionModel.from_unet2d."""

import json

import pytest
import torch
from animatediff_layout import to_original_layout
from diffusers import MotionAdapter, UNetMotionModel
from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers
from safetensors.torch import save_file

from evs_cli.engine.loaders.models import ModelSet, load_motion_adapter
from evs_cli.engine.loaders.motion_unet import build_motion_unet
from evs_cli.engine.pipeline import Engine
from evs_cli.engine.preset import load_preset
from evs_cli.errors import EvsError
from helpers import evs, make_clip

# SD1.5 AnimateDiff's unseen settings (8 heads, 32 groups), so that a file alone loads right; tiny widths.
FAMILIES = {"v1": dict(motion_max_seq_length=24, use_motion_mid_block=False),
            "v2": dict(motion_max_seq_length=32, use_motion_mid_block=True),
            "v3": dict(motion_max_seq_length=32, use_motion_mid_block=False)}


def _adapter(family, seed=3):
    torch.manual_seed(seed)
    return MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=2, **FAMILIES[family]).eval()


def _same_tensors(a: dict, b: dict):
    assert a.keys() == b.keys()
    bad = [k for k in a if not torch.equal(a[k], b[k])]
    assert not bad, bad[:3]


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_an_original_layout_checkpoint_loads_the_tensors_diffusers_converter_gives(tmp_path, family, suffix):
    made = _adapter(family)
    original = to_original_layout(made.state_dict())
    assert all(".temporal_transformer." in k for k in original)
    path = tmp_path / f"mm_{family}{suffix}"
    if suffix == ".ckpt":
        torch.save({"state_dict": original}, path)  # as the AnimateDiff repo saves
    else:
        save_file(original, str(path))
    ours = load_motion_adapter(str(path), torch.float32)
    assert ours.config.motion_max_seq_length == FAMILIES[family]["motion_max_seq_length"]
    assert ours.config.use_motion_mid_block == FAMILIES[family]["use_motion_mid_block"]
    assert tuple(ours.config.block_out_channels) == (32, 64) and ours.config.motion_layers_per_block == 2
    state = ours.state_dict()
    theirs = convert_animatediff_checkpoint_to_diffusers(original)  # the oracle: diffusers' own renaming
    _same_tensors({k: v for k, v in state.items() if not k.endswith("pos_embed.pe")}, theirs)
    _same_tensors(state, made.state_dict())  # the positional tables too: the same sinusoids, recomputed


def test_a_legacy_config_beside_a_file_is_filtered_and_checked_against_the_weights(tmp_path):
    made = _adapter("v2")
    folder = tmp_path / "v1-5-2"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in made.state_dict().items()}, str(folder / "diffusion_pytorch_model.safetensors"))
    config = {**dict(made.config), "_class_name": "MotionAdapter", "_diffusers_version": "0.23.0",
              "motion_activation_fn": "geglu", "motion_attention_bias": False, "motion_cross_attention_dim": None}
    (folder / "config.json").write_text(json.dumps(config))
    loaded = load_motion_adapter(str(folder / "diffusion_pytorch_model.safetensors"), torch.float32)
    _same_tensors(loaded.state_dict(), made.state_dict())
    (folder / "config.json").write_text(json.dumps({**config, "block_out_channels": [320, 640]}))
    with pytest.raises(EvsError) as e:
        load_motion_adapter(str(folder / "diffusion_pytorch_model.safetensors"), torch.float32)
    assert str(e.value) == (f"T2V motion adapter {folder / 'config.json'}: says block_out_channels = [320, 640], "
                            "but the weights beside it have (32, 64)")


def test_a_file_without_motion_modules_is_one_line(tmp_path, tiny_models):
    path = tmp_path / "unet.safetensors"
    save_file({k: v.contiguous() for k, v in list(tiny_models.unet.state_dict().items())[:4]}, str(path))
    with pytest.raises(EvsError, match=r"unet\.safetensors: no motion modules in it \(a T2I checkpoint goes to --t2i\)"):
        load_motion_adapter(str(path), torch.float32)


def test_a_motion_mid_block_runs_through_the_schedule_as_diffusers_builds_it(tiny_models):
    """Every real v2 and Lightning module has a mid block; the T2V UNet that shares the T2I's spatial weights
    must give what diffusers' own from_unet2d (which copies them) gives, over a whole evs schedule."""
    m = tiny_models
    torch.manual_seed(5)
    adapter = MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=2, motion_norm_num_groups=8,
                            motion_num_attention_heads=2, use_motion_mid_block=True).eval()
    with torch.no_grad():
        for p in adapter.parameters():  # diffusers zero-initialises proj_out: make the motion modules act
            p.add_(0.02 * torch.randn_like(p))
    ours = build_motion_unet(m.unet, adapter)
    assert hasattr(ours.mid_block, "motion_modules") and ours.mid_block.motion_modules[0] is adapter.mid_block.motion_modules[0]
    reference = UNetMotionModel.from_unet2d(m.unet, adapter).eval()
    preset = load_preset("vc2")
    x0 = torch.randn(4, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    runs = []
    for motion in (ours, reference):
        models = ModelSet(m.tokenizer, m.text_encoder, m.vae, m.unet, motion, m.scheduler_config, m.device, m.dtype)
        runs.append(Engine(models, preset).refine_latents(x0, "a cat", seed=0)[0])
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-5, atol=1e-5)
    plain = build_motion_unet(m.unet, MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=2,
                                                    motion_norm_num_groups=8, motion_num_attention_heads=2,
                                                    use_motion_mid_block=False).eval())
    models = ModelSet(m.tokenizer, m.text_encoder, m.vae, m.unet, plain, m.scheduler_config, m.device, m.dtype)
    other = Engine(models, preset).refine_latents(x0, "a cat", seed=0)[0]
    assert (other - runs[0]).abs().max() > 1e-4  # the mid block's motion module changed the result


def test_evs_refine_takes_an_original_layout_checkpoint(tmp_path, tiny_paths):
    """End to end: --t2v mm.ckpt in the original layout, with the tiny T2I (8 heads and 32 groups unseen)."""
    made = _adapter("v2")
    ckpt = tmp_path / "mm_sd_v15_v2.ckpt"
    torch.save(to_original_layout(made.state_dict()), ckpt)
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=4, size=(32, 32))
    out = tmp_path / "out"
    r = evs("refine", src, "--t2i", tiny_paths["t2i"], "--t2v", ckpt, "--out", out, "--set", "tI=2", "--set",
            "tT2V=1", "--resize", "1")
    assert r.returncode == 0, r.stderr
    assert (out / src.name).is_file()
