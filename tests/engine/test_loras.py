"""LoRAs (engine/loaders/loras.py): kohya/A1111 and diffusers files read through diffusers' own loaders, each active
only in the stages of the model it was given to, although both UNets share their spatial layers."""

import warnings

import pytest
import torch
from lora_files import make_lora
from safetensors.torch import save_file

from evs_cli.engine.loaders.models import load_models
from evs_cli.engine.pipeline import Engine
from evs_cli.engine.preset import load_preset
from evs_cli.errors import EvsError


def _calls(models, z, t):
    """A call of each stage of T2I + [T2V] + T2I at level t, each after its stage's switch."""
    d = Engine(models, load_preset("vc2")).denoisers("a red circle")
    out = []
    for name in ("t2i", "t2v", "t2i"):  # back and forth: the switch works both ways
        d[name].activate()
        d[name].prepare("cpu", z.shape[0])
        out.append(d[name](z, t))
    return out


def test_a_t2v_lora_acts_in_the_t2v_stage_only_and_a_t2i_lora_in_the_t2i_stages_only(tmp_path, tiny_paths,
                                                                                     tiny_models):
    lora, _ = make_lora(tiny_models.unet, tmp_path / "style", "diffusers")
    z = torch.randn(4, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    base = _calls(tiny_models, z, 241)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with_t2v_lora = load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), loras=((), [str(lora)]))
    assert not [w for w in caught if "PEFT" in str(w.message)]  # no screenful of peft's about motion modules
    adapted = [n for n, m in with_t2v_lora.motion_unet.named_modules() if "t2v-0" in getattr(m, "lora_A", {})]
    assert adapted and not [n for n in adapted if "motion_modules" in n]  # only the layers the file holds
    t2v_only = _calls(with_t2v_lora, z, 241)
    t2i_only = _calls(load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), loras=([str(lora)], ())),
                      z, 241)
    first, block, tail = 0, 1, 2
    # a T2V LoRA: absent in both T2I stages, active in the T2V stage
    assert torch.equal(t2v_only[first], base[first]) and torch.equal(t2v_only[tail], base[tail])
    assert (t2v_only[block] - base[block]).abs().max() > 1e-3
    # a T2I LoRA: active in both T2I stages, absent in the T2V stage
    assert torch.equal(t2i_only[block], base[block])
    assert all((t2i_only[s] - base[s]).abs().max() > 1e-3 for s in (first, tail))


def test_a_kohya_lora_gives_what_peft_computes_and_its_scale_scales_it(tmp_path, tiny_paths, tiny_models):
    lora, adapted = make_lora(tiny_models.unet, tmp_path / "kohya", "kohya")
    x = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    t, cond = torch.tensor([500]), torch.randn(2, 77, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want, plain = adapted(x, t, cond).sample, tiny_models.unet(x, t, cond).sample
        outs = {}
        for scale in (1.0, 0.5):
            m = load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), loras=([f"{lora}:{scale}"], ()))
            m.loras.activate("t2i")
            outs[scale] = m.unet(x, t, cond).sample
    torch.testing.assert_close(outs[1.0], want, rtol=1e-5, atol=1e-5)
    assert (want - plain).abs().max() > 1e-3
    half = (outs[0.5] - plain).abs().max() / (want - plain).abs().max()
    assert 0.3 < half < 0.7, half  # about half the change (attention is not linear in it)


def test_a_lora_for_another_model_is_one_line(tmp_path, tiny_paths):
    alien = tmp_path / "sdxl.safetensors"
    save_file({"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight": torch.zeros(4, 640),
               "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_up.weight": torch.zeros(640, 4)},
              str(alien))
    with pytest.raises(EvsError, match=r"LoRA .*sdxl\.safetensors \(--lora, t2i\.loras\): "):
        load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), loras=([str(alien)], ()))
