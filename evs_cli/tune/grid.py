"""The settings a tune tries: the base preset, and the preset with each combination of the grid's values.

`--grid tV=1,2,3 nV=1,2` gives the product of the values (YAML each, split at commas outside brackets:
`layers=[up.1,mid],[up.2]`). Any schedule key may be gridded, and a model's sampling keys (`t2i.guidance`,
`t2v.family`, ...); not what loads other models or changes the working size (models, LoRAs, runtime), which
a tune shares across its settings. A combination the schedule rejects (nV above tV) is left out, and
combinations that give the same schedule are tried once.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from ..engine.keys import used_schedule_keys
from ..engine.preset import SCHEDULE_KEYS, Preset, parse_override
from ..errors import ConfigError, EvsError

NOT_GRIDDED = ("models.", "runtime.", "t2i.loras", "t2v.loras", "schedule.stages", "name", "description")


@dataclass(frozen=True)
class Setting:
    label: str  # the gridded keys that matter, e.g. "tV=2 nV=1"; "base" for the base preset itself
    values: tuple[tuple[str, object], ...]  # (key, value) as given to --grid, in grid order
    preset: Preset
    is_base: bool = False

    @property
    def overrides(self) -> dict:
        return dict(self.values)


def long_key(key: str) -> str:
    return f"schedule.{key}" if key in SCHEDULE_KEYS else key


def split_values(text: str) -> list[str]:
    """'1,2,[a,b]' -> ['1', '2', '[a,b]']: commas inside brackets or braces belong to the value."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [v.strip() for v in out]


def parse_grid(texts: list[str]) -> list[tuple[str, list[str]]]:
    """['tV=1,2', ...] -> [('tV', ['1', '2']), ...]; a key gridded twice, a forbidden key or an empty value is
    an EvsError naming it."""
    axes: list[tuple[str, list[str]]] = []
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise EvsError(f"--grid expects KEY=V1,V2,..., got {text!r}")
        full = long_key(key)
        if any(full == k or full.startswith(k) for k in NOT_GRIDDED):
            raise EvsError(f"--grid {key}: a tune shares its models, LoRAs and runtime options across settings; "
                           "set it with --set or on the command line instead")
        if any(long_key(k) == full for k, _ in axes):
            raise EvsError(f"--grid {key} is given twice: give all its values in one --grid")
        vals = split_values(values)
        if any(not v for v in vals):
            raise EvsError(f"--grid {text!r}: an empty value (two commas, or one at an end)")
        axes.append((key, vals))
    return axes


def default_axes(preset: Preset) -> list[tuple[str, list[str]]]:
    """A small grid around the base's block: tT2V a fifth of tI either way, tV and nV one step either way.
    Compositions other than evs have no block: their grid is their own strength, tI or tV."""
    s, steps_v = preset.data["schedule"], preset.data["t2v"]["steps"]
    if s["stages"] is not None:
        raise EvsError(f"{preset.source}: a preset with its own stage list has no block to tune; give --grid")
    comp = s["composition"]

    def around(v, step, lo, hi):
        return [str(x) for x in sorted({max(lo, min(hi, v + d)) for d in (-step, 0, step)})]

    if comp == "t2i":
        return [("tI", around(s["tI"], max(1, s["tI"] // 5), 1, preset.data["t2i"]["steps"]))]
    if comp in ("t2v", "t2i-t2v", "t2v-t2i"):
        return [("tV", around(s["tV"], 1, 1, steps_v))]
    return [("tT2V", around(s["tT2V"], max(1, s["tI"] // 5), 1, s["tI"])), ("tV", around(s["tV"], 1, 1, steps_v)),
            ("nV", around(s["nV"], 1, 1, steps_v))]


def settings_of(base: Preset, axes: list[tuple[str, list[str]]]) -> tuple[list[Setting], list[str]]:
    """The base and every valid combination, each distinct schedule once; and notes on what was left out."""
    out = [Setting("base", (), base, is_base=True)]
    seen = {_identity(base): out[0]}
    rejected: dict[str, int] = {}
    merged = 0
    keys = [k for k, _ in axes]
    usable: set[tuple[int, str]] = set()  # (axis, value) that some combination could use
    reason: dict[tuple[int, str], str] = {}  # the last combination's (the widest, where values are sorted)
    for combo in itertools.product(*(v for _, v in axes)):
        overrides = [parse_override(f"{k}={v}") for k, v in zip(keys, combo)]
        try:
            preset = base.with_overrides(overrides)
        except ConfigError as e:
            rejected[str(e)] = rejected.get(str(e), 0) + 1
            for axis, v in enumerate(combo):
                reason[axis, v] = str(e)
            continue
        usable.update(enumerate(combo))
        values = tuple((k, _value(o)) for k, o in zip(keys, overrides))
        ident = _identity(preset)
        if ident in seen:
            merged += 1
            continue
        label = _label(values, preset)
        full, n = " ".join(f"{k}={_text(v)}" for k, v in values), 2
        while any(s.label == label for s in out):  # two settings that differ only in keys not shown
            label, n = (full if n == 2 else f"{full} #{n}"), n + 1
        setting = Setting(label, values, preset)
        seen[ident] = setting
        out.append(setting)
    _refuse_unusable(axes, usable, reason)
    notes = [f"{n} combination{'s' * (n > 1)} left out: {why}" for why, n in rejected.items()]
    if merged:
        notes.append(f"{merged} combination{'s' * (merged > 1)} gave a schedule already in the grid (or the base's): "
                     "tried once")
    if len(out) == 1:
        raise EvsError("the grid holds no setting other than the base preset: "
                       + ("; ".join(notes) if notes else "give --grid KEY=V1,V2"))
    return out, notes


def _refuse_unusable(axes, usable: set, reason: dict) -> None:
    """A value that no combination can use is a mistake in the command (a typo, a value out of range), not a
    combination to leave out: one EvsError naming it."""
    for axis, (key, values) in enumerate(axes):
        for v in values:
            if (axis, v) not in usable:
                raise EvsError(f"--grid {key}={v}: no combination can use this value ({reason[axis, v]})")


def _value(override: dict):
    while isinstance(override, dict):
        (override,) = override.values()
    return override


def _label(values, preset: Preset) -> str:
    # a schedule key the composition's stages do not read does not tell two settings apart (engine/keys.py)
    used = used_schedule_keys(preset.data["schedule"]["composition"])
    shown = [(k, v) for k, v in values if "." in k.replace("schedule.", "", 1) or k.replace("schedule.", "", 1) in used]
    return " ".join(f"{k}={_text(v)}" for k, v in shown) or "base"


def _text(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


def _identity(preset: Preset) -> str:
    """What tells two settings' refinements apart: their stages and both models' sampling options."""
    from ..engine.stages import build_stages

    d = preset.data
    stages = [s.describe() for s in build_stages(preset.schedule_params())]
    return json.dumps({"stages": stages, "t2i": d["t2i"], "t2v": d["t2v"]}, sort_keys=True, default=str)
