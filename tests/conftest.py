import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
if "EVS_TESTS_CONFIG_HOME" not in os.environ:  # the compile cache's key (and any other user config) stays in the run
    import tempfile

    os.environ["EVS_TESTS_CONFIG_HOME"] = os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="evs-tests-config-")

import pytest  # noqa: E402
import torch  # noqa: E402

from evs_cli.toy.tiny import save_tiny_models  # noqa: E402

# Under pytest-xdist (README runs two workers) each worker gets one core's worth of threads.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


@pytest.fixture(scope="session")
def tiny_paths(tmp_path_factory):
    return save_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_models(tiny_paths):
    from evs_cli.engine.loaders.models import load_models

    return load_models(str(tiny_paths["t2i"]), str(tiny_paths["adapter"]), "cpu", torch.float32)


@pytest.fixture
def make_engine(tiny_models):
    from evs_cli.engine.pipeline import Engine
    from evs_cli.engine.preset import load_preset, parse_override

    def make(preset="vc2", **overrides):
        p = load_preset(preset).with_overrides([parse_override(f"{k}={v}") for k, v in overrides.items()])
        return Engine(tiny_models, p)

    return make


# The longest test files first: pytest-xdist (--dist loadfile, README) hands files to its two workers in
# collection order, and a long file collected last (tests/toy sorts last) would run alone at the end.
LONGEST_FIRST = ("toy/test_toy_world.py", "cli/test_cluster.py", "cli/test_refine.py", "cli/test_tune.py", "cli/test_faults.py",
                 "engine/test_compile_cache.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return next((k for k, end in enumerate(LONGEST_FIRST) if path.endswith(end)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a file stays
