"""Whether the models fit each other (engine/loaders/fit.py): a motion module made for other UNets and a VAE of other
latent channels are one line naming the file, what it is and what it does not fit, before any model loads where
the files are local, and when loaded where they are not (a .ckpt)."""

import pytest
import torch
from diffusers import MotionAdapter
from safetensors.torch import save_file

from evs_cli.engine.loaders.fit import adapter_misfit, check_loaded, check_models, vae_misfit
from evs_cli.engine.loaders.models import load_models
from evs_cli.errors import EvsError


def _adapter(widths):
    return MotionAdapter(block_out_channels=widths, motion_layers_per_block=1, motion_norm_num_groups=8,
                         motion_num_attention_heads=2, motion_max_seq_length=32, use_motion_mid_block=False)


def test_what_a_motion_module_was_made_for_is_said_against_the_t2i_unet():
    sd15, sdxl = (320, 640, 1280, 1280), (320, 640, 1280)
    assert adapter_misfit(sd15, sd15) is None
    assert adapter_misfit(sdxl, sd15) == "a motion module for SDXL-sized UNets (3 blocks); the T2I model has 4"
    assert adapter_misfit((32, 64, 64), (32, 64)) == ("a motion module for UNets of 3 blocks (widths 32, 64, 64); "
                                                       "the T2I model has 2")
    assert adapter_misfit(sd15, (32, 64, 64, 64)) == ("a motion module for SD1.5-sized UNets (widths 320, 640, 1280, "
                                                      "1280); the T2I model's are 32, 64, 64, 64")
    assert adapter_misfit((16, 32), (32, 64)) == "a motion module for UNets of widths 16, 32; the T2I model's are 32, 64"
    assert vae_misfit(4, 4) is None
    assert vae_misfit(16, 4) == "a VAE of 16 latent channels; the T2I model's UNet takes 4"


@pytest.fixture(scope="module")
def misfits(tmp_path_factory):
    root = tmp_path_factory.mktemp("misfits")
    for name, widths in (("three", (32, 64, 64)), ("narrow", (16, 32))):
        a = _adapter(widths)
        a.save_pretrained(root / name)
        state = {k: v.contiguous() for k, v in a.state_dict().items()}
        save_file(state, str(root / f"{name}.safetensors"))
        (root / "ckpt").mkdir(exist_ok=True)
        torch.save(state, root / "ckpt" / f"{name}.ckpt")  # no header to read: seen only once loaded
    return root


@pytest.mark.parametrize("source,vae,message", [
    ("three", None, "T2V motion adapter '{d}/three': a motion module for UNets of 3 blocks (widths 32, 64, 64); "
                    "the T2I model has 2"),
    ("three.safetensors", None, "T2V motion adapter '{d}/three.safetensors': a motion module for UNets of 3 blocks"),
    ("narrow", None, "T2V motion adapter '{d}/narrow': a motion module for UNets of widths 16, 32; the T2I "
                     "model's are 32, 64"),
    ("ADAPTER", "ADAPTER", "VAE '{a}': its config.json describes a MotionAdapter, not an AutoencoderKL (--vae takes "
                           "an SD VAE; a motion adapter goes to --t2v)"),
    ("ADAPTER", "three.safetensors", "VAE '{d}/three.safetensors': a motion module's weights, not an AutoencoderKL"),
])
def test_a_model_that_does_not_fit_is_named_before_any_model_loads(tiny_paths, misfits, source, vae, message):
    adapter = str(tiny_paths["adapter"])

    def path(name):
        return adapter if name == "ADAPTER" else str(misfits / name)

    with pytest.raises(EvsError) as e:
        check_models(str(tiny_paths["t2i"]), path(source), path(vae) if vae else None)
    assert str(e.value).startswith(message.format(d=misfits, a=adapter))


def test_a_vae_of_other_latent_channels_is_named_before_any_model_loads(tiny_paths, tmp_path):
    from diffusers import AutoencoderKL

    AutoencoderKL(block_out_channels=(8,), latent_channels=16, norm_num_groups=8).save_pretrained(tmp_path / "vae16")
    with pytest.raises(EvsError) as e:
        check_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), str(tmp_path / "vae16"))
    assert str(e.value) == f"VAE '{tmp_path / 'vae16'}': a VAE of 16 latent channels; the T2I model's UNet takes 4"


def test_a_module_seen_only_once_loaded_is_named_before_any_video(tiny_paths, misfits):
    check_models(str(tiny_paths["t2i"]), str(misfits / "ckpt" / "three.ckpt"))  # nothing to read ahead
    with pytest.raises(EvsError) as e:
        load_models(str(tiny_paths["t2i"]), str(misfits / "ckpt" / "three.ckpt"), "cpu", torch.float32)
    assert str(e.value) == (f"T2V motion adapter '{misfits / 'ckpt' / 'three.ckpt'}': a motion module for UNets of "
                            "3 blocks (widths 32, 64, 64); the T2I model has 2")


def test_loaded_configs_are_checked_against_each_other():
    unet = {"block_out_channels": (32, 64), "in_channels": 4}
    check_loaded(unet, {"block_out_channels": (32, 64)}, {"latent_channels": 4}, "m", None)
    with pytest.raises(EvsError, match="^VAE 'v.safetensors': a VAE of 16 latent channels; the T2I model's UNet "
                                       "takes 4$"):
        check_loaded(unet, {"block_out_channels": (32, 64)}, {"latent_channels": 16}, "m", "v.safetensors")
    with pytest.raises(EvsError, match="^T2V motion adapter 'm': a motion module for UNets of widths 16, 32"):
        check_loaded(unet, {"block_out_channels": (16, 32)}, {"latent_channels": 4}, "m", None)
