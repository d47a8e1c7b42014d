"""What each preset key changes (engine/keys.py), declared once: the table holds every key the preset has, and
each of its readers (fingerprint, a tune's stage context, a composition's schedule keys) reads it."""

import pytest

from evs_cli.engine.keys import KEYS, Key, asked_values, call_shaping, used_schedule_keys
from evs_cli.engine.preset import DEFAULTS


def _preset_keys(d: dict) -> set[str]:
    return {f"{section}.{k}" if isinstance(v, dict) else section
            for section, v in d.items() for k in (v if isinstance(v, dict) else [None])}


def test_the_table_declares_every_key_the_preset_has_and_no_other():
    assert set(KEYS) == _preset_keys(DEFAULTS)


def test_asked_values_keep_what_changes_a_result_and_added_keys_only_when_set():
    runtime = dict(DEFAULTS["runtime"])
    assert asked_values("runtime", runtime) == {k: runtime[k] for k in ("t2v_window", "t2v_overlap", "resize")}
    assert asked_values("models", {"t2i": "a", "t2v": "b", "tokenizer": None, "vae": None}) == {
        "t2i": "a", "t2v": "b", "tokenizer": None}  # vae came later: absent while unset
    assert asked_values("models", {"t2i": "a", "vae": "v"}) == {"t2i": "a", "vae": "v"}
    assert asked_values("t2v", {"loras": [], "family": None, "steps": 8}) == {"steps": 8}
    assert asked_values("t2i", {"loras": ["l.safetensors"]}) == {"loras": ["l.safetensors"]}
    with pytest.raises(KeyError):
        asked_values("runtime", {"undeclared": 1})


def test_the_call_shaping_runtime_keys_are_chunks_windows_and_the_kernel():
    assert call_shaping(dict(DEFAULTS["runtime"])) == {k: DEFAULTS["runtime"][k] for k in
                                                       ("t2i_chunk", "t2v_window", "t2v_overlap", "attention")}


@pytest.mark.parametrize("composition,keys", [
    ("t2i", {"composition", "tI", "stages"}),
    ("t2v", {"composition", "tV", "mode", "gamma", "layers", "resnet_layers", "stages"}),
    ("t2i-t2v", {"composition", "tI", "tV", "mode", "gamma", "layers", "resnet_layers", "stages"}),
    ("t2v-t2i", {"composition", "tI", "tV", "mode", "gamma", "layers", "resnet_layers", "stages"}),
    ("evs", set(DEFAULTS["schedule"])),
    ("unknown", set()),
])
def test_each_composition_reads_its_own_schedule_keys(composition, keys):
    assert used_schedule_keys(composition) == keys


def test_a_key_changes_what_is_asked_unless_declared_otherwise():
    assert Key() == Key(asked=True, shapes_calls=False, counts_when_set=False)
    assert not KEYS["runtime.dtype"].asked and KEYS["runtime.resize"].asked and KEYS["t2v.family"].counts_when_set
