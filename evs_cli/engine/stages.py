"""The schedule as data: a list of stages, and the paper's compositions built from its parameters.

A stage takes a clean latent video and returns one. It brings the latent to `start` remaining steps
on its model's grid (by seeded SDEdit noise, or by deterministic DDIM inversion), makes `calls`
model calls down the grid and returns the clean latent predicted by the last call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError
from .layers import check_layer_names

MODELS = ("t2i", "t2v")
STARTS = ("sdedit", "invert")


@dataclass(frozen=True)
class Injection:
    """Selective Feature Injection for an inverted stage: Attn(g*Q_inv + (1-g)*Q, K_inv, V_inv)."""

    gamma: float = 0.8
    layers: tuple[str, ...] = ("up.1",)  # spatial self-attention (attn1) under these module paths
    resnet_layers: tuple[str, ...] = ()  # ResNet blocks whose outputs f are replaced by the inversion's


@dataclass(frozen=True)
class Stage:
    model: str  # "t2i" or "t2v"
    start: int  # remaining steps on the model's grid where the stage starts (paper: tI, tV, tT2V)
    calls: int  # model calls made down the grid from there (paper: nV for the [T2V] block)
    mode: str = "sdedit"  # how the clean input is brought to `start`
    injection: Injection | None = None  # only with mode "invert"

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        if self.injection is None:
            d.pop("injection")
        return d


@dataclass(frozen=True)
class ScheduleParams:
    """The paper's notation. Counts are integers on each model's own grid."""

    composition: str = "evs"  # evs | t2i | t2v | t2i-t2v | t2v-t2i
    T_I: int = 50
    T_V: int = 8
    tI: int = 20
    tT2V: int = 10
    tV: int = 3
    nV: int = 3
    mode: str = "sdedit"  # how the [T2V] block starts: sdedit or invert (with SFI)
    gamma: float = 0.8
    layers: tuple[str, ...] = ("up.1",)
    resnet_layers: tuple[str, ...] = ()
    stages: tuple[Stage, ...] | None = field(default=None)  # a user-written stage list wins


COMPOSITIONS = ("evs", "t2i", "t2v", "t2i-t2v", "t2v-t2i")


def _check_range(name: str, value, lo, hi, integer: bool = True) -> None:
    """Levels and counts are integers on a model's grid (20.5 would pass a range check, then fail an index)."""
    kinds = int if integer else (int, float)
    if not isinstance(value, kinds) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'} in {lo}..{hi}, got {value!r}")


def build_stages(p: ScheduleParams) -> list[Stage]:
    """The stage list of a composition (docs/method.md, 'A schedule is a list of stages')."""
    validate_params(p)
    if p.stages is not None:
        return list(p.stages)
    inj = Injection(p.gamma, tuple(p.layers), tuple(p.resnet_layers)) if p.mode == "invert" else None
    t2i_full = Stage("t2i", p.tI, p.tI)
    t2v_full = Stage("t2v", p.tV, p.tV, p.mode, inj)
    if p.composition == "t2i":
        return [t2i_full]
    if p.composition == "t2v":
        return [t2v_full]
    if p.composition == "t2i-t2v":
        return [t2i_full, t2v_full]
    if p.composition == "t2v-t2i":
        return [t2v_full, t2i_full]
    # EVS, Algorithm 1: T2I from tI down to and including tT2V; the [T2V] block of nV calls from tV;
    # T2I again from tT2V (Eq. 10 restarts at that level, so its call happens twice) to the end.
    return [
        Stage("t2i", p.tI, p.tI - p.tT2V + 1),
        Stage("t2v", p.tV, p.nV, p.mode, inj),
        Stage("t2i", p.tT2V, p.tT2V),
    ]


def validate_params(p: ScheduleParams) -> None:

    if p.composition not in COMPOSITIONS:
        raise ConfigError(f"composition must be one of {', '.join(COMPOSITIONS)}, got {p.composition!r}")
    _check_range("T_I", p.T_I, 1, 1000)
    _check_range("T_V", p.T_V, 1, 1000)
    if p.stages is not None:
        for i, s in enumerate(p.stages):
            validate_stage(s, p.T_I if s.model == "t2i" else p.T_V, f"stages[{i}]")
        return
    uses_t2i = p.composition in ("evs", "t2i", "t2i-t2v", "t2v-t2i")
    uses_t2v = p.composition != "t2i"
    if uses_t2i:
        _check_range("tI", p.tI, 1, p.T_I)
    if uses_t2v:
        _check_range("tV", p.tV, 1, p.T_V)
        if p.mode not in STARTS:
            raise ConfigError(f"mode must be one of {', '.join(STARTS)}, got {p.mode!r}")
    if p.composition == "evs":
        _check_range("tT2V", p.tT2V, 1, p.tI)
        _check_range("nV", p.nV, 1, p.tV)
    if uses_t2v and p.mode == "invert":
        _check_range("gamma", p.gamma, 0.0, 1.0, integer=False)
        check_layer_names(p.layers, "layers")
        check_layer_names(p.resnet_layers, "resnet_layers")


def validate_stage(s: Stage, steps: int, where: str) -> None:

    if s.model not in MODELS:
        raise ConfigError(f"{where}.model must be one of {', '.join(MODELS)}, got {s.model!r}")
    _check_range(f"{where}.start", s.start, 1, steps)
    _check_range(f"{where}.calls", s.calls, 1, s.start)
    if s.mode not in STARTS:
        raise ConfigError(f"{where}.mode must be one of {', '.join(STARTS)}, got {s.mode!r}")
    if s.injection is not None:
        if s.mode != "invert":
            raise ConfigError(f"{where}.injection needs mode 'invert' (features come from the inversion)")
        _check_range(f"{where}.injection.gamma", s.injection.gamma, 0.0, 1.0, integer=False)
        check_layer_names(s.injection.layers, f"{where}.injection.layers")
        check_layer_names(s.injection.resnet_layers, f"{where}.injection.resnet_layers")


def count_calls(stages: list[Stage]) -> dict[str, int]:
    """Model calls the schedule makes, per model (inversion calls counted separately)."""
    n = {"t2i": 0, "t2v": 0, "t2i_inversion": 0, "t2v_inversion": 0}
    for s in stages:
        n[s.model] += s.calls
        if s.mode == "invert":
            n[f"{s.model}_inversion"] += s.start + (1 if s.injection is not None else 0)
    return n
