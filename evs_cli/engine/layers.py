"""Names of UNet layers in presets (`up.1`, `mid`, `all`, diffusers module paths): checked and turned into
module-path prefixes without torch, so that presets validate before any model (or torch) loads."""

from __future__ import annotations

import re

from ..errors import ConfigError

_ALIAS = re.compile(r"^(?P<kind>down|up)(?:\.(?P<block>\d+)(?:\.(?P<sub>\d+))?)?$")
_PATH = re.compile(r"^(down_blocks\.\d+|up_blocks\.\d+|mid_block)(\.[A-Za-z0-9_.]+)?$")


def check_layer_names(names, what: str) -> None:
    """Reject names that cannot be a layer, before any model is loaded."""
    for n in names:
        if not isinstance(n, str) or not (n in ("all", "mid") or _ALIAS.match(n) or _PATH.match(n)):
            raise ConfigError(
                f"{what}: unknown layer {n!r}; use all, mid, down.N, up.N, up.N.M or a diffusers module path "
                "such as up_blocks.1.attentions.0"
            )


def layer_prefix(name: str) -> str:
    """Short alias -> diffusers module path prefix (``up.1`` -> ``up_blocks.1.``)."""
    if name == "all":
        return ""
    if name == "mid":
        return "mid_block."
    m = _ALIAS.match(name)
    if m:
        p = f"{m['kind']}_blocks."
        if m["block"] is not None:
            p += f"{m['block']}."
            if m["sub"] is not None:
                p += f"attentions.{m['sub']}."
        return p
    return name.rstrip(".") + "."
