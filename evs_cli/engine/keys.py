"""What each preset key changes, declared once. Three things read this table: the settings fingerprint (which
existing outputs a rerun redoes: batch/planning/settings.py), the context under which a tune reuses a stage
for another setting (engine/shared.py), and which schedule keys a composition reads (tune's labels:
tune/grid.py). A test holds the table to the preset's DEFAULTS, so a new key cannot be left out of any.
"""

from __future__ import annotations

from dataclasses import dataclass

from .stages import COMPOSITIONS


@dataclass(frozen=True)
class Key:
    # It changes what a run is asked for (a result's pixels): in the settings fingerprint. Not the keys that
    # change only speed or rounding (dtype, chunk sizes, compile, the attention kernel) or how a run behaves.
    asked: bool = True
    # It changes how a stage's model calls are cut (chunks, windows, the kernel), so their rounding: a tune
    # reuses a stage's result for another setting only when these are the same.
    shapes_calls: bool = False
    # Added after outputs were first made: it counts in the fingerprint only when set (not None, not []), so
    # that those outputs keep theirs.
    counts_when_set: bool = False
    # A schedule key: the compositions whose stages read it (the others' tune labels leave it out).
    used_by: tuple[str, ...] = COMPOSITIONS


WITH_T2I = ("evs", "t2i", "t2i-t2v", "t2v-t2i")
WITH_T2V = ("evs", "t2v", "t2i-t2v", "t2v-t2i")
RUNNING = Key(asked=False)  # how a run goes (speed, memory, limits), not what it makes

_MODEL_SAMPLING = {"scheduler": Key(), "scheduler_config": Key(), "steps": Key(), "guidance": Key(),
                   "guidance_interval": Key(counts_when_set=True), "negative_prompt": Key(),
                   "loras": Key(counts_when_set=True)}

KEYS: dict[str, Key] = {
    "name": RUNNING,
    "description": RUNNING,
    "models.t2i": Key(),
    "models.t2v": Key(),
    "models.tokenizer": Key(),
    "models.vae": Key(counts_when_set=True),
    "schedule.composition": Key(),
    "schedule.tI": Key(used_by=WITH_T2I),
    "schedule.tT2V": Key(used_by=("evs",)),
    "schedule.tV": Key(used_by=WITH_T2V),
    "schedule.nV": Key(used_by=("evs",)),
    "schedule.mode": Key(used_by=WITH_T2V),
    "schedule.gamma": Key(used_by=WITH_T2V),
    "schedule.layers": Key(used_by=WITH_T2V),
    "schedule.resnet_layers": Key(used_by=WITH_T2V),
    "schedule.stages": Key(),
    **{f"t2i.{k}": v for k, v in _MODEL_SAMPLING.items()},
    **{f"t2v.{k}": v for k, v in _MODEL_SAMPLING.items()},
    "t2v.family": Key(counts_when_set=True),
    "runtime.t2i_chunk": Key(asked=False, shapes_calls=True),
    "runtime.t2v_window": Key(shapes_calls=True),  # a window's frames attend to each other: it changes the video
    "runtime.t2v_overlap": Key(shapes_calls=True),
    "runtime.vae_chunk": RUNNING,
    "runtime.resize": Key(),
    "runtime.dtype": RUNNING,
    "runtime.compile": RUNNING,
    "runtime.video_timeout": RUNNING,
    "runtime.attention": Key(asked=False, shapes_calls=True),
    "runtime.vae_layout": RUNNING,
}


def asked_values(section: str, values: dict) -> dict:
    """The values of a preset section that are part of what a run is asked for (the fingerprint's)."""
    out = {}
    for name, value in values.items():
        key = KEYS[f"{section}.{name}"]
        if key.asked and not (key.counts_when_set and value in (None, [])):
            out[name] = value
    return out


def call_shaping(runtime: dict) -> dict:
    """The runtime values that cut a stage's model calls (a tune's stage context)."""
    return {name: value for name, value in runtime.items() if KEYS[f"runtime.{name}"].shapes_calls}


def used_schedule_keys(composition: str) -> set[str]:
    """The schedule keys the stages of `composition` read (an unknown composition: none)."""
    return {key.split(".", 1)[1] for key, k in KEYS.items() if key.startswith("schedule.") and composition in k.used_by}
