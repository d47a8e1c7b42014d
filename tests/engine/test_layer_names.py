"""Names of UNet layers in presets (engine/layers.py): the short aliases and diffusers module paths are checked
before any model loads, and each alias turns into the module-path prefix it stands for."""

import pytest

from evs_cli.engine.layers import check_layer_names, layer_prefix
from evs_cli.errors import ConfigError


@pytest.mark.parametrize("name,prefix", [("all", ""), ("mid", "mid_block."), ("up", "up_blocks."),
                                         ("up.1", "up_blocks.1."), ("down.2", "down_blocks.2."),
                                         ("up.1.0", "up_blocks.1.attentions.0."),
                                         ("up_blocks.1.attentions.0", "up_blocks.1.attentions.0."),
                                         ("mid_block", "mid_block.")])
def test_each_name_is_the_prefix_of_the_modules_it_means(name, prefix):
    check_layer_names([name], "layers")
    assert layer_prefix(name) == prefix


@pytest.mark.parametrize("name", ["up1", "up.x", "middle", "blocks.1", "", "up_blocks", 3, None])
def test_a_name_that_cannot_be_a_layer_is_refused_naming_the_setting(name):
    with pytest.raises(ConfigError) as e:
        check_layer_names(["up.1", name], "schedule.layers")
    assert str(e.value).startswith(f"schedule.layers: unknown layer {name!r}; use all, mid, down.N, up.N, up.N.M")
