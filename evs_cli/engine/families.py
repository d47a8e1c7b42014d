"""Motion-module families and the T2V sampling each was made for, as data a preset names (`t2v.family`).

A family fixes the T2V model's scheduler class and settings, its step grid and its guidance, as the
module's authors sample it; the preset's tV and nV then count steps on that grid (the dry run shows the
levels). Where each comes from:
  * lightning-1/2/4/8 (ByteDance/AnimateDiff-Lightning): its model card's recipe, Euler with trailing
    timesteps and linear betas, guidance 1, as many steps as the checkpoint was distilled for;
  * v1, v2, v3 (guoyww/AnimateDiff): AnimateDiff's own inference configs, DDIM on linear betas from
    0.00085 to 0.012 (steps_offset 1, no sample clipping), 25 steps, guidance 7.5;
  * animatelcm (wangfuyun/AnimateLCM): LCM's multistep sampler on linear betas (consistency steps that
    re-noise with fresh noise; diffusion.Grid.consistency), with its spatial LoRA at 0.8, given in
    t2v.loras; 10 steps and guidance 2 as diffusers' AnimateLCM examples sample it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ConfigError, EvsError


@dataclass(frozen=True)
class Family:
    scheduler: str
    scheduler_config: dict = field(default_factory=dict)
    steps: int = 8
    guidance: float = 1.0
    lora: str | None = None  # the LoRA it is meant with, which the user must give (t2v.loras)

    def t2v_values(self) -> dict:
        """The preset's t2v keys this family sets."""
        return {"scheduler": self.scheduler, "scheduler_config": dict(self.scheduler_config), "steps": self.steps,
                "guidance": self.guidance}


_LIGHTNING = {"timestep_spacing": "trailing", "beta_schedule": "linear"}
_ANIMATEDIFF = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear", "steps_offset": 1,
                "clip_sample": False, "set_alpha_to_one": True, "timestep_spacing": "leading"}

FAMILIES: dict[str, Family] = {
    **{f"lightning-{n}": Family("EulerDiscreteScheduler", _LIGHTNING, n, 1.0) for n in (1, 2, 4, 8)},
    **{v: Family("DDIMScheduler", _ANIMATEDIFF, 25, 7.5) for v in ("v1", "v2", "v3")},
    "animatelcm": Family("LCMScheduler", {"beta_schedule": "linear"}, 10, 2.0,
                         lora="its spatial LoRA, AnimateLCM_sd15_t2v_lora.safetensors, at 0.8 in t2v.loras"),
}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"t2v.family must be one of {', '.join(FAMILIES)}, got {name!r}") from None


def matching(t2v: dict) -> str | None:
    """The family whose sampling these t2v settings are, when a preset spells it out without naming it."""
    for name, f in FAMILIES.items():
        v = f.t2v_values()
        if all(t2v[k] == v[k] for k in ("scheduler", "steps", "guidance")) \
                and all(t2v["scheduler_config"].get(k) == x for k, x in v["scheduler_config"].items()):
            return name
    return None


def apply_family(t2v: dict, explicit: frozenset) -> tuple[dict, list[str]]:
    """t2v settings with the family's values for every key the preset or --set did not give; and one note per
    given key that contradicts the family (the given value wins, and the dry run says so)."""
    if t2v.get("family") is None:
        return t2v, []
    f, out, notes = family(t2v["family"]), dict(t2v), []
    for key, value in f.t2v_values().items():
        if key == "scheduler_config":  # merged key by key: a given key wins over the family's
            given = t2v[key] if key in explicit else {}
            out[key] = {**value, **given}
            notes += [f"t2v.scheduler_config.{k} = {v!r} overrides family {t2v['family']}'s {value[k]!r}"
                      for k, v in given.items() if k in value and value[k] != v]
        elif key not in explicit:
            out[key] = value
        elif t2v[key] != value:
            notes.append(f"t2v.{key} = {t2v[key]!r} overrides family {t2v['family']}'s {value!r}")
    if f.lora and not t2v.get("loras"):
        notes.append(f"family {t2v['family']} is meant with {f.lora}, and t2v.loras is empty")
    return out, notes


# Told from the name: Lightning's step count (distilled from v2, it has v2's shape), and AnimateDiff's files.
_LIGHTNING_NAME = re.compile(r"lightning\D*?(\d)[_-]?step", re.IGNORECASE)
_NAMED = ((re.compile(r"animatelcm", re.IGNORECASE), "animatelcm"),
          (re.compile(r"mm_sd_v15_v2|motion-adapter-v1-5-2", re.IGNORECASE), "v2"),
          (re.compile(r"v3_sd15_mm|motion-adapter-v1-5-3", re.IGNORECASE), "v3"),
          (re.compile(r"mm_sd_v1[45]\b|motion-adapter-v1-[45]$", re.IGNORECASE), "v1"))


SD15_WIDTHS = (320, 640, 1280, 1280)  # every SD1.5 motion module's; other widths are no family of these


def family_of_shape(seen: dict) -> str | None:
    """AnimateDiff's family by the shape its weights show, as diffusers' single-file loader tells them apart;
    None for a module of other widths (the toy world's, a custom one)."""
    if tuple(seen.get("block_out_channels", SD15_WIDTHS)) != SD15_WIDTHS:
        return None
    if seen.get("use_motion_mid_block", True):
        return "v2"  # or a model distilled from it (Lightning): only the name can tell
    return {24: "v1", 32: "v3"}.get(seen.get("motion_max_seq_length", 32))


def detect(source: str) -> tuple[str, str] | None:
    """(family, how it was told) for a T2V source: its name, else the shape its local weights or config
    show (a .safetensors header or config.json, read without torch); None when neither tells."""
    import json
    from pathlib import Path

    from .motion_files import seen_in_weights
    from .sources import safetensors_shapes

    named = source.replace("\\", "/").rsplit("/", 1)[-1]  # the file's or repo's own name, not its folders'
    if m := _LIGHTNING_NAME.search(named):
        return f"lightning-{m.group(1)}", "by its name"
    for pattern, name in _NAMED:
        if pattern.search(named):
            return name, "by its name"
    path = Path(source)
    try:
        if path.is_dir() and (path / "config.json").is_file():
            seen = json.loads((path / "config.json").read_text())
        elif path.suffix == ".safetensors" and path.is_file():
            seen = seen_in_weights(safetensors_shapes(path), path)
        else:
            return None
    except (OSError, ValueError, EvsError):
        return None
    name = family_of_shape(seen)
    return (name, "by the shape of its weights") if name else None


def sampling_note(preset) -> str | None:
    """One line when the T2V model looks like a family that this preset, naming none, samples otherwise."""
    from .sources import resolve_source

    if preset.t2v.family is not None:
        return None  # the user chose
    found = detect(resolve_source(preset.t2v_model))
    if not found:
        return None
    name, how = found
    now = matching(preset.data["t2v"])
    if now == name or (name == "v2" and how != "by its name" and now and now.startswith("lightning")):
        return None  # the same, or a v2-shaped Lightning model: its name would have said which
    f = FAMILIES[name]
    return (f"T2V {preset.t2v_model} is, {how}, a {name} motion module, which its authors sample with "
            f"{f.scheduler} over {f.steps} steps at guidance {f.guidance}; this preset samples it "
            f"{'as ' + now if now else 'its own way'} (--set t2v.family={name} samples it as they do)")
