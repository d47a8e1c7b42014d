"""cli/app.py: the `evs` process sets itself up when it starts; importing evs_cli configures nothing."""

import subprocess
import sys

PROBE = """
import os, warnings
before_env = dict(os.environ)
ours = lambda: [f for f in warnings.filters
                if f[3] is not None and "diffusers|transformers" in getattr(f[3], "pattern", f[3])]
from typer.core import TyperArgument
before_usage = TyperArgument.__dict__.get("_usage_display_name")
import evs_cli, evs_cli.cli, evs_cli.cli.refine, evs_cli.batch.dispatch.cluster
assert dict(os.environ) == before_env, set(os.environ) ^ set(before_env)
assert ours() == []  # the libraries may add their own filters on import; evs adds none
assert TyperArgument.__dict__.get("_usage_display_name") is before_usage
from evs_cli.cli.app import setup_process
setup_process()
assert os.environ["TRANSFORMERS_VERBOSITY"] == "error" and len(ours()) == 1
print("ok")
"""


def test_importing_evs_cli_configures_nothing_and_the_entry_point_sets_up_its_process():
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120,
                       check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_parsing_mistakes_are_one_error_line_and_exit_2(tmp_path):
    from helpers import evs

    for args, message in ((["--format", "avi"], "Invalid value for '--format'"),
                          (["--crf", "abc"], "Invalid value for '--crf'"),
                          (["--seed", str(2**90)], "Invalid value for '--seed'"),
                          (["--lease", "0"], "Invalid value for '--lease' / '--stale-after'"),
                          (["--bogus"], "No such option: --bogus")):
        r = evs("refine", tmp_path / "x.mp4", *args)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"evs: error: {message}"), r.stderr
    r = evs("refine")  # no arguments: the help, as `evs` alone
    assert r.returncode == 2 and "--preset" in r.stdout + r.stderr


def test_a_log_per_shard():
    from pathlib import Path

    from evs_cli.cli.refine import log_of_shard

    assert log_of_shard(Path("out/log-{shard}.jsonl"), (3, 8)) == Path("out/log-3-of-8.jsonl")
    assert log_of_shard(Path("out/log-{shard}.jsonl"), None) == Path("out/log-all.jsonl")
    assert log_of_shard(Path("out/log.jsonl"), (3, 8)) == Path("out/log.jsonl")
