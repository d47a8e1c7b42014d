"""engine/sources.py: what a model source is, checked before any model loads, without importing torch."""

import subprocess
import sys

import pytest

from evs_cli.engine.sources import check_sources, local_scheduler_config, source_kind
from evs_cli.errors import EvsError


def test_the_pre_flight_checks_do_not_import_torch(tmp_path):
    probe = ("import sys; from evs_cli.engine.sources import check_sources, local_scheduler_config; "
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
