"""engine/loaders/sources.py: what a model source is, checked before any model loads, without importing torch."""

import subprocess
import sys

import pytest

from evs_cli.engine.loaders import sources
from evs_cli.engine.loaders.sources import check_sources, local_scheduler_config, source_kind
from evs_cli.errors import EvsError, EvsErrors


def test_the_pre_flight_checks_do_not_import_torch(tmp_path):
    probe = ("import sys; from evs_cli.engine.loaders.sources import check_sources, local_scheduler_config; "
             "local_scheduler_config('/no/such'); print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_kinds_and_one_line_errors(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(b"")
    assert [source_kind(s) for s in (str(tmp_path), str(tmp_path / "m.safetensors"), "owner/name", "/no/such")] == [
        "folder", "file", "hub", "missing"]
    with pytest.raises(EvsError, match="not a diffusers folder \\(no unet/ inside\\)"):
        check_sources(str(tmp_path), "owner/adapter")
    with pytest.raises(EvsError, match="T2V motion adapter '/no/such' not found"):
        check_sources("owner/name", "/no/such")
    assert local_scheduler_config("owner/name")["num_train_timesteps"] == 1000  # SD1.5's, nothing fetched


def _cache(root, repo, *files):
    """A Hugging Face cache entry holding `files` of `repo`, laid out as huggingface_hub writes it."""
    entry = root / f"models--{repo.replace('/', '--')}"
    (entry / "refs").mkdir(parents=True, exist_ok=True)
    (entry / "refs" / "main").write_text("abc123")
    for name in files:
        f = entry / "snapshots" / "abc123" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("{}")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_which_hub_models_the_cache_lacks_is_read_from_disk(hub_cache, tiny_paths):
    _cache(hub_cache, "me/t2i", "unet/config.json", "model_index.json")
    _cache(hub_cache, "me/lightning", "a_diffusers.safetensors")
    _cache(hub_cache, "me/vae", "vae/config.json")
    models = [("T2I model", "me/t2i"), ("T2V motion adapter", "me/lightning:a_diffusers.safetensors"),
              ("T2V motion adapter", "me/lightning:b_diffusers.safetensors"), ("VAE", "me/vae"),
              ("VAE", "me/other-vae"), ("tokenizer", "me/t2i"), ("T2I model", str(tiny_paths["t2i"])),
              ("VAE", None), ("T2V motion adapter", "me/adapter")]
    assert sources.uncached(models) == [("T2V motion adapter", "me/lightning:b_diffusers.safetensors"),
                                        ("VAE", "me/other-vae"), ("tokenizer", "me/t2i"),
                                        ("T2V motion adapter", "me/adapter")]


def test_missing_hub_models_are_one_line_each_in_seconds_without_network_or_when_offline(hub_cache, monkeypatch):
    models = [("T2I model", "emilianJR/epiCRealism"),
              ("T2V motion adapter", "ByteDance/AnimateDiff-Lightning:animatediff_lightning_8step_diffusers.safetensors")]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EvsErrors) as e:
        sources.check_downloadable(models)
    assert e.value.lines == [
        f"T2I model 'emilianJR/epiCRealism' is not in the Hugging Face cache ({hub_cache}), and HF_HUB_OFFLINE forbids "
        "downloading it: unset HF_HUB_OFFLINE once to download it, or pass a local folder or file",
        "T2V motion adapter 'ByteDance/AnimateDiff-Lightning:animatediff_lightning_8step_diffusers.safetensors' is not in "
        f"the Hugging Face cache ({hub_cache}), and HF_HUB_OFFLINE forbids downloading it: unset HF_HUB_OFFLINE once "
        "to download it, or pass a local folder or file"]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: no network, at once
    with pytest.raises(EvsErrors) as e:
        sources.check_downloadable(models)
    assert len(e.value.lines) == 2 and all("127.0.0.1 cannot be reached to download it: connect once to download "
                                           "it, or pass a local folder or file" in line for line in e.value.lines)
    monkeypatch.setattr(sources, "hub_reachable", lambda timeout=3.0: True)
    sources.check_downloadable(models)  # reachable: the first run downloads them
    _cache(hub_cache, "emilianJR/epiCRealism", "unet/config.json")
    _cache(hub_cache, "ByteDance/AnimateDiff-Lightning", "animatediff_lightning_8step_diffusers.safetensors")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sources.check_downloadable(models)  # all cached: offline is fine


def test_the_hub_is_reachable_when_its_host_takes_a_connection(monkeypatch):
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert sources.hub_host() == ("127.0.0.1", server.getsockname()[1]) and sources.hub_reachable(1.0)
    finally:
        server.close()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert not sources.hub_reachable(1.0)
    monkeypatch.delenv("HF_ENDPOINT")
    assert sources.hub_host() == ("huggingface.co", 443)


def test_the_words_a_local_tokenizer_knows_are_its_whole_word_tokens(tmp_path):
    words = sources.tokenizer_words("evs:toy/models/t2i")
    assert {"red", "circle", "stripes", "moving", "over"} <= words and "a" not in words  # letters are no words
    assert all(len(w) > 1 and w.isalpha() for w in words)
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "vocab.json").write_text('{"a</w>": 0, "cat</w>": 1, "ca": 2, "do": 3, "x1</w>": 4}')
    assert sources.tokenizer_words("evs:toy/models/t2i", str(tmp_path / "tok")) == {"cat"}  # --tokenizer first
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "vocab.json").write_text("[1, 2")
    assert sources.tokenizer_words("evs:toy/models/t2i", str(tmp_path / "bad")) is None
    assert sources.tokenizer_words("runwayml/stable-diffusion-v1-5") is None  # not read from the hub
    assert sources.tokenizer_words(str(tmp_path / "model.safetensors")) is None


def test_a_prompt_with_no_known_word_gets_one_note_for_the_run():
    words = frozenset({"red", "circle"})
    assert sources.prompts_without_known_words(["a Red dog", "a corgi", "a corgi", "RED!", "circles"], words) == \
        ["a corgi", "circles"]
    assert sources.unknown_words_note("evs:toy/models/t2i", None, ["a red circle", None]) == []
    (note,) = sources.unknown_words_note("evs:toy/models/t2i", None, ["a corgi on the beach", "a red dog", "ice", None])
    assert note.startswith("the T2I model knows none of the words of 2 prompts (first: 'a corgi on the beach'); it "
                           "will paint what it was trained on, whatever the metrics say. Words it knows: blue, checks,")
    assert sources.unknown_words_note("stabilityai/sd-turbo", None, ["a corgi"]) == []
