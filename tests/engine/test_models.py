"""Model loading from folders and single files, and the errors users see for bad sources."""

import pytest
import torch

from evs_cli.engine.loaders.models import load_models, load_motion_adapter, load_t2i
from evs_cli.errors import EvsError


def test_adapter_single_file_equals_folder(tiny_paths):
    a = load_motion_adapter(str(tiny_paths["adapter"]), torch.float32)
    b = load_motion_adapter(str(tiny_paths["adapter_file"]), torch.float32)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_load_models_in_half_precision(tiny_paths):
    m = load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter_file"]), "cpu", torch.bfloat16)
    assert m.unet.dtype == torch.bfloat16 and m.motion_unet.dtype == torch.bfloat16
    assert next(m.vae.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("source,match", [
    ("/no/such/model", r"T2I model '/no/such/model' not found: no such file or folder"),
    ("not a model", r"not a hub id"),
    ("someone/not-cached-model", r"T2I model 'someone/not-cached-model' is not in the Hugging Face cache "
                                 r"\(.*\), and HF_HUB_OFFLINE forbids downloading it"),  # tests run offline
])
def test_missing_t2i_sources_are_named(source, match):
    with pytest.raises(EvsError, match=match):
        load_t2i(source, torch.float32)


def test_folder_that_is_not_a_diffusers_model(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(EvsError, match=r"not a diffusers folder \(no vae/ inside\)"):
        load_t2i(str(tmp_path), torch.float32)


def test_adapter_errors_name_the_file(tmp_path, tiny_paths):
    with pytest.raises(EvsError, match=r"T2V motion adapter '/nope\.safetensors' not found"):
        load_motion_adapter("/nope.safetensors", torch.float32)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    with pytest.raises(EvsError, match=r"bad\.safetensors: not a readable weights file"):
        load_motion_adapter(str(bad), torch.float32)
    # alone, a file's shape comes from its weights, and what weights cannot show is AnimateDiff's for SD1.5
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "m.safetensors").write_bytes(tiny_paths["adapter_file"].read_bytes())
    alone = load_motion_adapter(str(lone / "m.safetensors"), torch.float32)
    assert tuple(alone.config.block_out_channels) == (32, 64) and alone.config.motion_layers_per_block == 2
    assert (alone.config.motion_num_attention_heads, alone.config.motion_norm_num_groups) == (8, 32)
    # weights that do not fit the shape they show: an up block lost a tensor
    from safetensors.torch import load_file, save_file

    state = load_file(str(lone / "m.safetensors"))
    del state["up_blocks.0.motion_modules.0.proj_in.weight"]
    save_file(state, str(lone / "cut.safetensors"))
    with pytest.raises(EvsError, match=r"cut\.safetensors: weights do not fit the adapter \(the shape its weights "
                                       r"show\): missing \['up_blocks\.0\.motion_modules\.0\.proj_in\.weight'\]"):
        load_motion_adapter(str(lone / "cut.safetensors"), torch.float32)


def test_single_file_t2i_without_tokenizer_says_what_is_missing(tmp_path):
    ckpt = tmp_path / "model.safetensors"
    ckpt.write_bytes(b"x")
    with pytest.raises(EvsError, match=r"no CLIP tokenizer found .*pass --tokenizer"):
        load_t2i(str(ckpt), torch.float32)


def test_single_file_t2i_checkpoint_loads_like_the_folder(tmp_path, tiny_paths, tiny_models):
    """A tiny model written in the original LDM single-file layout loads through from_single_file."""
    import shutil

    from safetensors.torch import save_file

    from ldm_layout import to_single_file

    m = tiny_models
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_paths["t2i"], folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    save_file(to_single_file(m.unet, m.vae, m.text_encoder), str(folder / "tiny.safetensors"))
    tok, text_encoder, vae, unet, sched = load_t2i(str(folder / "tiny.safetensors"), torch.float32)
    for ours, ref in ((unet, m.unet), (vae, m.vae), (text_encoder, m.text_encoder)):
        a, b = ours.state_dict(), ref.state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k].reshape(b[k].shape), b[k]) for k in a), type(ref).__name__
    assert sched["beta_schedule"] == "scaled_linear" and tok("a red circle").input_ids == m.tokenizer("a red circle").input_ids


def test_folder_saved_by_the_installed_transformers_loads(tiny_paths, tmp_path):
    """transformers 5 saves a CLIP tokenizer as tokenizer.json only (no vocab.json / merges.txt)."""
    import shutil

    from transformers import CLIPTokenizer

    folder = tmp_path / "t2i"
    shutil.copytree(tiny_paths["t2i"], folder)
    shutil.rmtree(folder / "tokenizer")
    original = CLIPTokenizer.from_pretrained(str(tiny_paths["t2i"] / "tokenizer"))
    original.save_pretrained(str(folder / "tokenizer"))
    assert not (folder / "tokenizer" / "vocab.json").exists()
    tok = load_t2i(str(folder), torch.float32)[0]
    assert tok("a red circle").input_ids == original("a red circle").input_ids


def test_an_external_vae_from_a_folder_a_model_folder_or_a_single_file_replaces_the_t2i_models_own(tmp_path, tiny_paths):
    """--vae: one VAE serves both models; a single file in the original LDM layout (as vae-ft-mse-840000 ships,
    keys without first_stage_model.) reads with the config.json beside it."""
    from safetensors.torch import save_file

    from evs_cli.toy.tiny import build_t2i
    from ldm_layout import vae_to_ldm

    vae = build_t2i(seed=7)[1]  # the tiny T2I's VAE architecture, other weights
    vae.save_pretrained(tmp_path / "vae-folder")
    (tmp_path / "file").mkdir()
    prefix = "first_stage_model."
    ldm = {k[len(prefix):]: v.contiguous() for k, v in vae_to_ldm(vae.state_dict(), 4).items()}
    save_file(ldm, str(tmp_path / "file" / "vae-ft.safetensors"))
    (tmp_path / "file" / "config.json").write_text((tmp_path / "vae-folder" / "config.json").read_text())
    own = load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"])).vae.state_dict()
    for source in (tmp_path / "vae-folder", tiny_paths["t2i"], tmp_path / "file" / "vae-ft.safetensors"):
        m = load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), vae=str(source))
        got, want = m.vae.state_dict(), (own if source == tiny_paths["t2i"] else vae.state_dict())
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k].reshape(want[k].shape), want[k]) for k in got), source
    assert not torch.equal(own["decoder.conv_out.weight"], vae.state_dict()["decoder.conv_out.weight"])


@pytest.mark.parametrize("source,match", [
    ("/no/such/vae", r"VAE '/no/such/vae' not found: no such file or folder"),
    ("VAE_DIR", r"VAE '.*': not a diffusers VAE folder \(no config.json, nor vae/config.json\)"),
    ("vae.txt", r"VAE '.*vae\.txt': a single-file VAE must end in \.safetensors"),
])
def test_a_vae_source_that_cannot_be_one_is_named_before_loading(tmp_path, source, match):
    from evs_cli.engine.loaders.sources import check_vae_source

    (tmp_path / "VAE_DIR").mkdir()
    (tmp_path / "vae.txt").write_text("x")
    path = source if source.startswith("/") else str(tmp_path / source)
    with pytest.raises(EvsError, match=match):
        check_vae_source(path)


def test_half_precision_reads_a_models_fp16_variant_where_it_has_one(tmp_path, tiny_paths):
    """A repo or folder with *.fp16.safetensors beside the full weights: a half-precision run reads those
    (half the download), a full-precision one the full weights; without a variant, half loads the full ones."""
    import shutil

    from evs_cli.toy.tiny import build_t2i

    folder = tmp_path / "t2i"
    shutil.copytree(tiny_paths["t2i"], folder)
    other = build_t2i(seed=9)[0].half()  # stands for the fp16 export of the same model
    other.save_pretrained(folder / "unet", variant="fp16")
    assert (folder / "unet" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    half = load_t2i(str(folder), torch.float16)[3].state_dict()
    full = load_t2i(str(folder), torch.float32)[3].state_dict()
    base = load_t2i(str(tiny_paths["t2i"]), torch.float16)[3].state_dict()  # no variant: the full weights, cast
    key = "conv_in.weight"
    assert torch.equal(half[key], other.state_dict()[key])
    assert torch.equal(full[key].half(), base[key]) and not torch.equal(half[key], base[key])


@pytest.mark.parametrize("variant", ["fp16", "with its EMA copy"])
def test_single_file_t2i_checkpoints_as_they_are_shared_load(tmp_path, tiny_paths, tiny_models, variant):
    """fp16 single files (most of CivitAI), and full training checkpoints that keep an EMA copy beside the
    weights (model_ema.*, names without dots): the weights load, not the EMA copy, as A1111 and diffusers do."""
    import shutil

    from safetensors.torch import save_file

    from ldm_layout import to_single_file

    m = tiny_models
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_paths["t2i"], folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    sd = to_single_file(m.unet, m.vae, m.text_encoder)
    if variant == "fp16":
        sd = {k: v.half() for k, v in sd.items()}
    else:
        ema = {"model_ema." + k[len("model.diffusion_model."):].replace(".", ""): torch.randn_like(v)
               for k, v in sd.items() if k.startswith("model.diffusion_model.")}
        sd = {**sd, **ema, "model_ema.decay": torch.tensor(0.9999), "model_ema.num_updates": torch.tensor(1000)}
    save_file(sd, str(folder / "tiny.safetensors"))
    unet = load_t2i(str(folder / "tiny.safetensors"), torch.float32)[3].state_dict()
    ref = m.unet.state_dict()
    tol = 1e-3 if variant == "fp16" else 0  # fp16 rounding of the stored weights
    assert all(torch.allclose(unet[k].reshape(ref[k].shape), ref[k], atol=tol, rtol=tol) for k in ref)
