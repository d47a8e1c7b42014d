"""What a compile cache is trusted with (engine/runtime/cache_trust.py): only entries evs signed reach PyTorch, the key
is the user's alone, and a folder other users can write is refused unless a team's key was named on purpose."""

import json
import os

import pytest

from evs_cli.engine.runtime.cache_trust import KEY_ENV, MANIFEST, load_key, others_can_write, seal, verify
from evs_cli.engine.runtime.compile_cache import unusable, use_compile_cache
from evs_cli.errors import EvsError


@pytest.fixture
def key(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return load_key()


def _cache(tmp_path):
    folder = tmp_path / "cache"
    (folder / "fxgraph" / "ab").mkdir(parents=True, exist_ok=True)
    (folder / "fxgraph" / "ab" / "entry").write_bytes(b"compiled graph")
    (folder / "kernel.so").write_bytes(b"\x7fELF")
    return folder


def test_the_key_is_made_once_readable_by_the_user_alone(tmp_path, key):
    path = tmp_path / "config" / "evs" / "compile-cache.key"
    assert oct(path.stat().st_mode & 0o777) == "0o600" and len(key) == 64
    assert load_key() == key  # the same key next time
    path.chmod(0o640)
    with pytest.raises(EvsError, match=r"compile cache key .*: other users can read it \(mode 640"):
        load_key()


def test_only_signed_unchanged_entries_stay(tmp_path, key):
    folder = _cache(tmp_path)
    seal(folder, key)
    assert verify(folder, key) == []  # what evs wrote stays
    (folder / "fxgraph" / "ab" / "zz-planted").write_bytes(b"a pickle")  # added
    (folder / "kernel.so").write_bytes(b"\x7fELF replaced")  # replaced
    os.symlink("/etc/passwd", folder / "fxgraph" / "link")  # a link evs never makes
    assert sorted(verify(folder, key)) == ["fxgraph/ab/zz-planted", "fxgraph/link", "kernel.so"]
    assert (folder / "fxgraph" / "ab" / "entry").read_bytes() == b"compiled graph"
    assert not (folder / "kernel.so").exists() and not os.path.lexists(folder / "fxgraph" / "link")


def test_a_manifest_signed_with_another_key_vouches_for_nothing(tmp_path, key):
    folder = _cache(tmp_path)
    seal(folder, b"k" * 64)  # someone else's key (or a forged manifest)
    assert sorted(verify(folder, key)) == ["fxgraph/ab/entry", "kernel.so"]
    folder = _cache(tmp_path)
    seal(folder, key)
    data = json.loads((folder / MANIFEST).read_text())
    data["files"]["planted"] = data["files"]["kernel.so"]  # a forged line in a signed manifest
    (folder / MANIFEST).write_text(json.dumps(data))
    (folder / "kernel.so").write_bytes(b"\x7fELF")
    assert sorted(verify(folder, key)) == ["fxgraph/ab/entry", "kernel.so"]  # the signature fails: none vouched for


def test_a_reseal_keeps_what_was_signed_and_signs_what_this_process_compiled(tmp_path, key):
    folder = _cache(tmp_path)
    seal(folder, key)
    (folder / "fxgraph" / "cd").mkdir()
    (folder / "fxgraph" / "cd" / "entry").write_bytes(b"a new graph")
    seal(folder, key)
    assert verify(folder, key) == [] and (folder / "fxgraph" / "cd" / "entry").exists()


def test_a_folder_other_users_can_write_is_refused_unless_a_teams_key_is_named(tmp_path, monkeypatch, key):
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert others_can_write(shared) is None
    shared.chmod(0o777)
    assert others_can_write(shared) == f"{shared} can be written by every user (mode 777)"
    shared.chmod(0o775)
    assert others_can_write(shared) == f"{shared} can be written by its group (mode 775)"
    assert unusable(shared / "new") == f"{shared} can be written by its group (mode 775)"  # made inside it
    with pytest.raises(EvsError, match="can be written by its group .* other users could put code into it"):
        use_compile_cache(shared, "cpu")
    team = tmp_path / "team.key"
    team.write_text("t" * 64)
    team.chmod(0o600)
    monkeypatch.setenv(KEY_ENV, str(team))
    assert others_can_write(shared) is None and load_key() == b"t" * 64  # sharing on purpose
    shared.chmod(0o777)
    assert "every user" in others_can_write(shared)  # never a folder anyone can write
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    monkeypatch.delenv(KEY_ENV)
    assert others_can_write(sticky / "evs") is None  # made in /tmp, it is the user's own


def test_use_compile_cache_removes_what_evs_did_not_write_before_pytorch_reads(tmp_path, monkeypatch, key):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    folder = use_compile_cache(tmp_path / "root", "cpu")
    (folder / "fxgraph").mkdir()
    (folder / "fxgraph" / "planted").write_bytes(b"a pickle")  # written behind evs's back
    use_compile_cache(tmp_path / "root", "cpu")
    assert not (folder / "fxgraph" / "planted").exists()
