"""How one model is sampled, as a preset says it (engine/options.py): LoRA specs FILE or FILE:SCALE, read without
loading anything (a colon in a file's name stays in it; a bad scale is named as one), and the dtype names."""

import pytest

from evs_cli.engine.options import DTYPE_ALIASES, DTYPE_NAMES, parse_spec
from evs_cli.errors import ConfigError


def test_a_spec_splits_at_a_last_colon_that_reads_as_a_scale_and_a_colon_in_a_name_stays(tmp_path):
    assert parse_spec("style.safetensors:0.8") == ("style.safetensors", 0.8)
    assert parse_spec("style.safetensors:-1") == ("style.safetensors", -1.0)
    assert parse_spec("style.safetensors") == ("style.safetensors", 1.0)
    assert parse_spec("take:2.safetensors") == ("take:2.safetensors", 1.0)  # a colon in the file's name
    assert parse_spec("take:2.safetensors:0.5") == ("take:2.safetensors", 0.5)
    odd = tmp_path / "odd.safetensors:0.5"  # a file whose whole name ends like a scale is that file
    odd.write_bytes(b"")
    assert parse_spec(str(odd)) == (str(odd), 1.0)


@pytest.mark.parametrize("spec,message", [
    ("style.safetensors:abc", "LoRA 'style.safetensors:abc': the scale 'abc' is not a number (FILE:SCALE, e.g. "
                              "style.safetensors:0.8)"),
    ("style.ckpt:", "LoRA 'style.ckpt:': the scale '' is not a number"),
    ("style.safetensors:nan", "LoRA 'style.safetensors:nan': the scale 'nan' is not a finite number"),
    ("style.safetensors:-inf", "LoRA 'style.safetensors:-inf': the scale '-inf' is not a finite number"),
    ("style.safetensors:1e400", "LoRA 'style.safetensors:1e400': the scale '1e400' is not a finite number")])
def test_a_bad_scale_is_named_as_a_scale(spec, message):
    with pytest.raises(ConfigError) as e:
        parse_spec(spec)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("spec", [None, "", "   ", 3])
def test_a_spec_that_is_not_a_path_is_named(spec):
    with pytest.raises(ConfigError, match=r"a LoRA is FILE or FILE:SCALE, got "):
        parse_spec(spec)


def test_every_dtype_name_torch_prints_maps_to_a_short_name_evs_takes():
    assert set(DTYPE_ALIASES.values()) == set(DTYPE_NAMES) - {"auto"}
    assert DTYPE_ALIASES["bfloat16"] == "bf16" and DTYPE_ALIASES["float16"] == "fp16"
