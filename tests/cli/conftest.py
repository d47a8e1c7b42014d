"""Model arguments shared by the command-line tests (tiny models saved by the session fixture)."""

import pytest


@pytest.fixture
def full_models(tiny_paths):
    """The tiny models with the vc2 schedule as it ships (21 T2I calls): for call counts, and runs long
    enough to be interrupted."""
    return ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"], "--resize", "1"]


@pytest.fixture
def models(full_models):
    """A short schedule (4 T2I calls): what the batch behaviour tests need, in a fraction of the time."""
    return [*full_models, "--set", "tI=3", "--set", "tT2V=2"]
