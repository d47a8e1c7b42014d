"""The Engine's speed-related choices change nothing they must not: half precision, compilation, noise
drawn ahead, resizing on the device, no negative prompt without guidance, non-finite results refused."""

import copy

import pytest
import torch

from evs_cli.engine.loaders.models import load_models, resolve_dtype
from evs_cli.engine.pipeline import Engine, resize
from evs_cli.engine.preset import load_preset, parse_override
from evs_cli.engine.runtime.speed import speed_up
from evs_cli.engine.schedule import seeded_noise
from evs_cli.errors import EvsError

PROMPT = "a red circle moving over blue stripes"


def _frames(n=4, h=64, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, h, w, 3), generator=g, dtype=torch.uint8)


def _preset(name="vc2", **over):
    return load_preset(name).with_overrides([parse_override(f"{k}={v}") for k, v in over.items()])


def test_auto_dtype_is_fp32_on_the_cpu_and_names_are_checked():
    assert resolve_dtype("auto", "cpu") == "fp32"
    assert resolve_dtype("bf16", "cpu") == "bf16" and resolve_dtype("float16", "cpu") == "fp16"
    with pytest.raises(EvsError, match="dtype must be one of auto, bf16, fp16, fp32"):
        resolve_dtype("fp8", "cpu")


@pytest.mark.parametrize("dtype,tol", [(torch.bfloat16, 0.02), (torch.float16, 0.005)])
def test_half_precision_agrees_with_fp32(tiny_paths, tiny_models, dtype, tol):
    """Stated tolerance: relative L2 error of the refined latents after 7 T2I and 2 T2V calls, bf16 (8-bit
    mantissa) < 2%, fp16 (11-bit) < 0.5%. Measured on these tiny models: 0.52% and 0.06%."""
    preset = _preset(tI=6, tT2V=3)
    x0 = torch.randn(3, 4, 16, 16, generator=torch.Generator().manual_seed(3))
    ref, _ = Engine(tiny_models, preset).refine_latents(x0, PROMPT, seed=5)
    half = load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), "cpu", dtype)
    out, _ = Engine(half, preset).refine_latents(x0, PROMPT, seed=5)
    assert out.dtype == torch.float32  # the steps' arithmetic stays fp32; only the models run in half
    err = ((out - ref).norm() / ref.norm()).item()
    assert err < tol, err


def test_compiled_blocks_give_the_eager_result(tiny_models, monkeypatch):
    """--compile routes every block through torch.compile and computes what eager mode computes. Dynamo's
    "eager" backend here keeps CI fast: what is checked is that each block's calls are captured as graphs
    (module.compile() on torch 2.13 silently captured none) and that capture changes no result; inductor's
    own code generation is checked on the VAE in test_compile_cache.py."""
    import functools

    from torch._dynamo.utils import counters

    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    preset = _preset("t2i", tI=1)
    x0 = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(2))
    eager, _ = Engine(tiny_models, preset).refine_latents(x0, PROMPT, seed=1)
    compiled_models = copy.deepcopy(tiny_models)
    n = speed_up(compiled_models, compile=True)
    blocks = {id(m) for root in (compiled_models.unet, compiled_models.motion_unet)
              for m in root.modules() if type(m).__name__ in ("ResnetBlock2D", "Transformer2DModel",
                                                                "AnimateDiffTransformer3D")}
    assert n == len(blocks) + 2 > 2  # every shared block once, however many UNets hold it; the VAE's two halves
    for mod in (compiled_models.vae.encoder, compiled_models.vae.decoder, compiled_models.unet.mid_block.resnets[0]):
        assert hasattr(mod.forward, "_torchdynamo_orig_callable")
    torch._dynamo.reset()
    counters.clear()
    out, _ = Engine(compiled_models, preset).refine_latents(x0, PROMPT, seed=1)
    torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-5)
    assert counters["stats"]["unique_graphs"] >= 5, dict(counters["stats"])  # resnets and attentions at 2 widths


def test_noise_drawn_ahead_equals_noise_drawn_on_demand():
    shape = (3, 4, 8, 8)
    lazy, ahead = seeded_noise(7, "cpu"), seeded_noise(7, "cpu", shape, ahead=2)
    for _ in range(3):  # two drawn ahead, the third on demand: the same stream of values
        torch.testing.assert_close(ahead(shape), lazy(shape), rtol=0, atol=0)
    fresh = seeded_noise(7, "cpu", shape, ahead=1)
    with pytest.raises(ValueError, match="drawn ahead for shape"):
        fresh((1, 4, 8, 8))


def test_engine_output_does_not_depend_on_drawing_noise_ahead(make_engine):
    e = make_engine("vc2", tI=4, tT2V=2)
    x0 = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    a, _ = e.refine_latents(x0, PROMPT, seed=3)  # draws its 3 SDEdit noises before the first stage
    b, _ = e.refine_latents(x0, PROMPT, noise=seeded_noise(3, "cpu"))  # draws each as its stage starts
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_resize_keeps_values_and_runs_where_the_frames_are():
    flat = torch.full((2, 30, 50, 3), 77, dtype=torch.uint8)
    out = resize(flat, 128, 64)
    assert out.shape == (2, 64, 128, 3) and out.dtype == torch.uint8 and bool((out == 77).all())
    ramp = torch.arange(64, dtype=torch.uint8).repeat(1, 64, 1).unsqueeze(-1).expand(1, 64, 64, 3).contiguous()
    half = resize(ramp, 32, 64)
    assert abs(int(half[0, 0, 10, 0]) - 21) <= 1  # pixel 10 of 32 samples the ramp at about 2*10 + 0.5
    assert resize(ramp, 64, 64) is ramp


def test_refine_resizes_to_the_asked_size(make_engine):
    out, _ = make_engine("t2i", tI=1).refine(_frames(2, 30, 50), PROMPT, size=(128, 64))
    assert out.shape == (2, 64, 128, 3)


def test_no_negative_prompt_is_embedded_without_guidance(make_engine):
    e = make_engine("vc2", **{"t2v.negative_prompt": "'never embedded'", "t2i.negative_prompt": "'embedded'"})
    d = e.denoisers(PROMPT)
    assert d["t2v"].prompt.uncond is None and d["t2i"].prompt.uncond is not None
    assert "never embedded" not in e._prompts and "embedded" in e._prompts


def test_non_finite_latents_fail_with_one_line(make_engine):
    e = make_engine("t2i", tI=1)
    e.refine_latents = lambda *a, **k: (torch.full((2, 4, 8, 8), float("nan")), [])
    with pytest.raises(EvsError, match="not finite"):
        e.refine(_frames(2), PROMPT)


def test_each_call_gets_its_timestep_and_blend_weights_as_device_tensors_made_before_the_first_call(
        make_engine, monkeypatch):
    """No host-to-device copy inside a refinement: diffusers turns a Python timestep into a device tensor
    with a blocking copy on every call, and the window blend copied its weights once per window."""
    from evs_cli.engine import denoisers

    e = make_engine("vc2", tI=4, tT2V=2, **{"runtime.t2v_window": 4, "runtime.t2v_overlap": 1})
    made, seen, blended = [], [], []
    for cls in (denoisers.T2IDenoiser, denoisers.T2VDenoiser):
        def spy_prepare(self, device, frames=None, _prepare=cls.prepare):
            _prepare(self, device, frames)
            made.extend(self.on_device.values())
            made.extend(w for ws in getattr(self, "weights", {}).values() for w in ws)

        monkeypatch.setattr(cls, "prepare", spy_prepare)
    for unet in (e.models.unet, e.models.motion_unet):
        def forward(x, t, *a, _inner=unet.forward, **k):
            seen.append((t, len(made)))
            return _inner(x, t, *a, **k)
        monkeypatch.setattr(unet, "forward", forward)
    blend = denoisers.blend

    def spy_blend(outputs, windows, frames, weights=None):
        blended.append((weights, len(made)))
        return blend(outputs, windows, frames, weights)

    monkeypatch.setattr(denoisers, "blend", spy_blend)
    x0 = torch.randn(7, 4, 8, 8, generator=torch.Generator().manual_seed(0))  # 7 frames: windows of 4
    e.refine_latents(x0, PROMPT, seed=1)
    assert seen and blended
    total = len(made)
    for t, made_by_then in seen:
        assert isinstance(t, torch.Tensor) and t.dtype == torch.int64 and tuple(t.shape) == (1,)
        assert any(t is m for m in made) and made_by_then == total  # the prepared one, made before any call
    for weights, made_by_then in blended:
        assert weights is not None and all(any(w is m for m in made) for w in weights) and made_by_then == total


@pytest.mark.parametrize("kernel", ["flash", "cudnn", "efficient", "math"])
def test_each_attention_kernel_is_tried_first_and_gives_the_same_result(make_engine, monkeypatch, kernel):
    """runtime.attention: the named kernel first in PyTorch's priority order during every model call (the
    kernels a CPU lacks fall back to the next), and the refinement as with auto within fp32 rounding."""
    x0 = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    before = torch._C._get_sdp_priority_order()
    auto, _ = make_engine("vc2", tI=4, tT2V=2).refine_latents(x0, PROMPT, seed=1)
    e = make_engine("vc2", tI=4, tT2V=2, **{"runtime.attention": kernel})
    first = []
    for unet in (e.models.unet, e.models.motion_unet):
        def forward(*a, _inner=unet.forward, **k):
            first.append(torch._C._get_sdp_priority_order()[0])
            return _inner(*a, **k)
        monkeypatch.setattr(unet, "forward", forward)
    out, _ = e.refine_latents(x0, PROMPT, seed=1)
    from torch.nn.attention import SDPBackend

    wanted = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
              "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}[kernel]
    assert first and set(first) == {int(wanted)}
    torch.testing.assert_close(out, auto, rtol=1e-4, atol=1e-4)
    assert torch._C._get_sdp_priority_order() == before  # PyTorch's own order again after the refinement


@pytest.mark.parametrize("layout", ["channels_last", "contiguous", "auto"])
def test_each_vae_layout_gives_the_same_frames(tiny_models, layout):
    """runtime.vae_layout changes the VAE's memory format (auto, on a CPU: as loaded), never its result."""
    models = copy.deepcopy(tiny_models)
    speed_up(models, vae_layout=layout)
    conv = models.vae.encoder.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) == (layout == "channels_last")
    preset = _preset("t2i", tI=1)
    frames = _frames(2, 64, 64)
    e, reference = Engine(models, preset), Engine(tiny_models, preset)
    latents = e.encode(frames)
    torch.testing.assert_close(latents, reference.encode(frames), rtol=1e-4, atol=1e-4)
    assert (e.decode(latents).int() - reference.decode(latents).int()).abs().max() <= 1  # uint8 rounding
