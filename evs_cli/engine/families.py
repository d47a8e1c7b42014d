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

from dataclasses import dataclass, field

from ..errors import ConfigError


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
