"""YAML presets: the schedule in the paper's notation plus how each model is sampled.

A preset is merged over DEFAULTS; every key is checked, so a typo fails before any work with a message
that names the key. ``--set key=value`` overrides a key: dotted (``t2i.guidance=5``) or, for the
schedule's own keys, bare (``tV=4``).
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, first_line, read_text
from .families import apply_family
from .options import (
    ATTENTION,
    DTYPE_ALIASES,
    DTYPE_NAMES,
    VAE_LAYOUTS,
    ModelOptions,
    check_guidance_interval,
    parse_spec,
)
from .stages import Injection, ScheduleParams, Stage

DEFAULTS: dict[str, Any] = {
    "name": "custom",
    "description": "",
    "models": {
        "t2i": "emilianJR/epiCRealism",
        "t2v": "ByteDance/AnimateDiff-Lightning:animatediff_lightning_8step_diffusers.safetensors",
        "tokenizer": None,
        "vae": None,  # an external VAE for both models (--vae); None: the T2I model's own
    },
    "schedule": {"composition": "evs", "tI": 20, "tT2V": 10, "tV": 3, "nV": 3, "mode": "sdedit",
                 "gamma": 0.8, "layers": ["up.1"], "resnet_layers": [], "stages": None},
    "t2i": {"scheduler": "DDIMScheduler", "scheduler_config": {"timestep_spacing": "leading", "steps_offset": 1},
            "steps": 50, "guidance": 7.5, "guidance_interval": None, "negative_prompt": "", "loras": []},
    "t2v": {"scheduler": "EulerDiscreteScheduler",
            "scheduler_config": {"timestep_spacing": "trailing", "beta_schedule": "linear"},
            "steps": 8, "guidance": 1.0, "guidance_interval": None, "negative_prompt": "", "loras": [],
            "family": None},  # a motion-module family (families.py) sets scheduler, config, steps, guidance
    "runtime": {"t2i_chunk": 16, "t2v_window": 16, "t2v_overlap": 4, "vae_chunk": "auto", "resize": 2.0,
                "dtype": "auto", "compile": False, "video_timeout": "auto", "attention": "auto",
                "vae_layout": "auto"},
}
SCHEDULE_KEYS = set(DEFAULTS["schedule"])
FREE_FORM = {"t2i.scheduler_config", "t2v.scheduler_config", "schedule.stages", "schedule.layers",
             "schedule.resnet_layers"}


def preset_dir():
    """The shipped presets: package data when installed, the repo's presets/ in a source checkout."""
    try:
        return resources.files("evs_cli.presets")
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parents[2] / "presets"


def list_presets() -> list[str]:
    return sorted(p.name[:-5] for p in preset_dir().iterdir() if p.name.endswith(".yaml"))


def did_you_mean(word: str, choices: list[str], prefix: str = "") -> str:
    """'did you mean 'tV'? ' for the choice nearest `word` (one that differs only in case first), named with
    `prefix` ('t2i.'), or ''."""
    same = [c for c in choices if c.lower() == word.lower()]
    near = same or difflib.get_close_matches(word, choices, n=1, cutoff=0.6) or \
        difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not near:
        return ""
    choice = next(c for c in choices if c.lower() == near[0].lower())
    return f"did you mean {prefix + choice!r}? "


def _merge(base: dict, over: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        key = f"{where}{k}"
        if k not in base:
            # a bare key of --set may name a schedule key (tV=4): suggest among those too
            guess = did_you_mean(k, list(base) + (sorted(SCHEDULE_KEYS) if not where else []), where)
            raise ConfigError(f"unknown key {key!r} ({guess}known here: {', '.join(sorted(base))})")
        if isinstance(base[k], dict) and key not in FREE_FORM:
            if not isinstance(v, dict):
                raise ConfigError(f"{key} must be a mapping, got {v!r}")
            out[k] = _merge(base[k], v, key + ".")
        else:
            out[k] = v
    return out


def parse_override(text: str) -> dict:
    """'tV=4' -> {'schedule': {'tV': 4}}; 't2i.guidance=5' -> {'t2i': {'guidance': 5}}."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    path = key.split(".")
    if len(path) == 1 and key in SCHEDULE_KEYS:
        path = ["schedule", key]
    d: dict = {}
    cur = d
    for p in path[:-1]:
        cur = cur.setdefault(p, {})
    cur[path[-1]] = parsed
    return d


@dataclass
class Preset:
    data: dict
    source: str
    explicit_t2v: frozenset = frozenset()  # t2v keys the preset file or --set gave (a family fills the rest)
    family_notes: tuple = ()  # given t2v values that contradict the family (the dry run prints them)

    @property
    def name(self) -> str:
        return self.data["name"]

    t2i_model = property(lambda self: self.data["models"]["t2i"])
    t2v_model = property(lambda self: self.data["models"]["t2v"])
    tokenizer = property(lambda self: self.data["models"]["tokenizer"])
    vae_model = property(lambda self: self.data["models"]["vae"])
    t2i = property(lambda self: ModelOptions(**self.data["t2i"]))
    t2v = property(lambda self: ModelOptions(**self.data["t2v"]))
    t2i_chunk = property(lambda self: self.data["runtime"]["t2i_chunk"])
    t2v_window = property(lambda self: self.data["runtime"]["t2v_window"])
    t2v_overlap = property(lambda self: self.data["runtime"]["t2v_overlap"])
    vae_chunk = property(lambda self: self.data["runtime"]["vae_chunk"])
    resize = property(lambda self: self.data["runtime"]["resize"])
    dtype = property(lambda self: self.data["runtime"]["dtype"])
    compile = property(lambda self: self.data["runtime"]["compile"])
    video_timeout = property(lambda self: self.data["runtime"]["video_timeout"])
    attention = property(lambda self: self.data["runtime"]["attention"])
    vae_layout = property(lambda self: self.data["runtime"]["vae_layout"])

    def schedule_params(self) -> ScheduleParams:
        s = self.data["schedule"]
        if s["stages"] is not None and not isinstance(s["stages"], list):
            raise ConfigError(f"schedule.stages must be a list of stages, got {s['stages']!r}")
        stages = None if s["stages"] is None else tuple(_stage(d, i) for i, d in enumerate(s["stages"]))
        return ScheduleParams(
            composition=s["composition"], T_I=self.data["t2i"]["steps"], T_V=self.data["t2v"]["steps"],
            tI=s["tI"], tT2V=s["tT2V"], tV=s["tV"], nV=s["nV"], mode=s["mode"], gamma=s["gamma"],
            layers=_names("schedule.layers", s["layers"]), resnet_layers=_names("schedule.resnet_layers",
                                                                                 s["resnet_layers"]), stages=stages)

    def with_overrides(self, overrides: list[dict]) -> "Preset":
        data, explicit = self.data, set(self.explicit_t2v)
        for o in overrides:
            data = _merge(data, o)
            explicit |= _given_t2v(o)
        return _built(data, self.source, frozenset(explicit))

    def validate(self) -> None:
        from .stages import build_stages

        for model in ("t2i", "t2v"):
            m = self.data[model]
            if not isinstance(m["loras"], list):
                raise ConfigError(f"{model}.loras must be a list of FILE or FILE:SCALE, got {m['loras']!r}")
            for spec in m["loras"]:
                parse_spec(spec)
            _positive_int(f"{model}.steps", m["steps"], 1000)  # a scheduler has 1000 training levels
            # Classifier-free guidance beyond ~30 only saturates images (and 1e308 overflows to NaN).
            if not isinstance(m["guidance"], (int, float)) or isinstance(m["guidance"], bool) \
                    or not 0 <= m["guidance"] <= 30:
                raise ConfigError(f"{model}.guidance must be a number in 0..30, got {m['guidance']!r}")
            check_guidance_interval(f"{model}.guidance_interval", m["guidance_interval"])
            if not isinstance(m["scheduler_config"], dict):
                raise ConfigError(f"{model}.scheduler_config must be a mapping")
        rt = self.data["runtime"]
        _positive_int("runtime.t2i_chunk", rt["t2i_chunk"], 1024)
        _positive_int("runtime.t2v_window", rt["t2v_window"], 256)
        if rt["vae_chunk"] != "auto":
            _positive_int("runtime.vae_chunk (or auto)", rt["vae_chunk"], 1024)
        if not isinstance(rt["compile"], bool):
            raise ConfigError(f"runtime.compile must be true or false, got {rt['compile']!r}")
        if not isinstance(rt["t2v_overlap"], int) or not 0 <= rt["t2v_overlap"] < rt["t2v_window"]:
            raise ConfigError(f"runtime.t2v_overlap must be in 0..{rt['t2v_window'] - 1}, got {rt['t2v_overlap']!r}")
        if not isinstance(rt["resize"], (int, float)) or not 0 < rt["resize"] <= 8:
            raise ConfigError(f"runtime.resize must be in (0, 8], got {rt['resize']!r}")
        if rt["vae_layout"] not in VAE_LAYOUTS:
            raise ConfigError(f"runtime.vae_layout must be one of {', '.join(VAE_LAYOUTS)}, got {rt['vae_layout']!r}")
        if rt["attention"] not in ATTENTION:
            raise ConfigError(f"runtime.attention must be one of {', '.join(ATTENTION)}, got {rt['attention']!r}")
        vt = rt["video_timeout"]
        if vt != "auto" and (not isinstance(vt, (int, float)) or isinstance(vt, bool) or vt < 0):
            raise ConfigError(f"runtime.video_timeout must be auto or seconds (0: none), got {vt!r}")
        if rt["dtype"] != "auto" and rt["dtype"] not in DTYPE_ALIASES:
            raise ConfigError(f"runtime.dtype must be one of {', '.join(DTYPE_NAMES)}, got {rt['dtype']!r}")
        for k in ("t2i", "t2v"):
            if not isinstance(self.data["models"][k], str) or not self.data["models"][k]:
                raise ConfigError(f"models.{k} must be a model path or hub id")
        for k in ("tokenizer", "vae"):
            if self.data["models"][k] is not None and not (isinstance(self.data["models"][k], str)
                                                           and self.data["models"][k]):
                raise ConfigError(f"models.{k} must be a path or hub id, or left out")
        build_stages(self.schedule_params())


def _positive_int(name: str, v, most: int) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= most:
        raise ConfigError(f"{name} must be an integer in 1..{most}, got {v!r}")


def _names(key: str, value) -> tuple[str, ...]:
    """Layer names: a YAML list, or one string with commas (what --set layers=up.1,mid gives)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(n.strip() for n in value.split(",") if n.strip())
    if isinstance(value, list) and all(isinstance(n, str) for n in value):
        return tuple(value)
    raise ConfigError(f"{key} must be a list of layer names (e.g. [up.1, mid]), got {value!r}")


def _stage(d: dict, i: int) -> Stage:
    if not isinstance(d, dict):
        raise ConfigError(f"schedule.stages[{i}] must be a mapping")
    known = {"model", "start", "calls", "mode", "injection"}
    for k in d:
        if k not in known:
            raise ConfigError(f"unknown key 'schedule.stages[{i}].{k}' (known: {', '.join(sorted(known))})")
    inj = d.get("injection")
    if inj is not None:
        if not isinstance(inj, dict) or set(inj) - {"gamma", "layers", "resnet_layers"}:
            raise ConfigError(f"schedule.stages[{i}].injection takes gamma, layers, resnet_layers")
        where = f"schedule.stages[{i}].injection"
        inj = Injection(inj.get("gamma", 0.8), _names(f"{where}.layers", inj.get("layers", ["up.1"])),
                        _names(f"{where}.resnet_layers", inj.get("resnet_layers")))
    try:
        return Stage(d["model"], d["start"], d["calls"], d.get("mode", "sdedit"), inj)
    except KeyError as e:
        raise ConfigError(f"schedule.stages[{i}] needs {e.args[0]!r}") from None


def load_preset(name_or_path: str) -> Preset:
    """A shipped preset by name, or a YAML file by path. A shipped name always means the shipped preset,
    whatever the current folder holds (a file `./vc2` is named as such)."""
    p = Path(name_or_path).expanduser()
    shipped = name_or_path in list_presets()
    if not shipped and (p.suffix in (".yaml", ".yml") or p.exists()):
        if not p.is_file():
            raise ConfigError(f"preset file {name_or_path!r} not found")
        text, source = read_text(p, "the preset", ConfigError), str(p)
    else:
        f = preset_dir() / f"{name_or_path}.yaml"
        if not f.is_file():
            raise ConfigError(f"unknown preset {name_or_path!r} ({did_you_mean(name_or_path, list_presets())}"
                              f"shipped: {', '.join(list_presets())})")
        text, source = read_text(f, "the preset", ConfigError), f"preset:{name_or_path}"
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML ({first_line(e)})") from e
    if raw is None:  # an empty file would run the built-in defaults under its name
        raise ConfigError(f"{source}: the preset file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a preset must be a YAML mapping")
    try:
        data = _merge(DEFAULTS, raw)
        if "name" not in raw:
            data["name"] = p.stem if source == str(p) else name_or_path
        return _built(data, source, frozenset(_given_t2v(raw)))
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def _given_t2v(over: dict) -> set:
    t2v = over.get("t2v") if isinstance(over, dict) else None
    return set(t2v) - {"family"} if isinstance(t2v, dict) else set()


def _built(data: dict, source: str, explicit: frozenset) -> Preset:
    """A validated preset, its t2v settings filled in from its family if it names one."""
    t2v, notes = apply_family(data["t2v"], explicit)
    preset = Preset({**data, "t2v": t2v}, source, explicit, tuple(notes))
    preset.validate()
    return preset
