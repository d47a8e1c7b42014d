"""--compile pays its warm-up once per machine: a second process loads what the first compiled, a changed
shape compiles anew, and the cache folder is keyed so that another torch, Python or device never shares it.
Inductor (C++ on the CPU here) compiles a small VAE's encoder and decoder whole, as speed_up does with --compile,
and each computes what eager mode does."""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import torch

from evs_cli.engine.runtime import compile_cache
from evs_cli.engine.runtime.compile_cache import ENV, machine_key, use_compile_cache

CHILD = textwrap.dedent("""
    import json, sys, types
    import torch
    from diffusers import AutoencoderKL
    from torch._dynamo.utils import counters
    from evs_cli.engine.runtime.compile_cache import use_compile_cache
    from evs_cli.engine.runtime.speed import speed_up

    folder = use_compile_cache(sys.argv[1], "cpu")
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(8,), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
                        layers_per_block=1, down_block_types=("DownEncoderBlock2D",),
                        up_block_types=("UpDecoderBlock2D",)).eval()
    z = torch.randn(1, 4, 8, int(sys.argv[2]), generator=torch.Generator().manual_seed(0))
    x = torch.rand(1, 3, 8, int(sys.argv[2]), generator=torch.Generator().manual_seed(1)) * 2 - 1
    none = torch.nn.Module()
    with torch.no_grad():
        eager, eager_enc = vae.decode(z).sample, vae.encode(x).latent_dist.mean
        speed_up(types.SimpleNamespace(device=torch.device("cpu"), unet=none, motion_unet=none, vae=vae), compile=True)
        out, enc = vae.decode(z).sample, vae.encode(x).latent_dist.mean
    err = max((out - eager).abs().max().item(), (enc - eager_enc).abs().max().item())
    print(json.dumps({"folder": str(folder), "err": err,
                      "hits": counters["inductor"]["fxgraph_cache_hit"],
                      "misses": counters["inductor"]["fxgraph_cache_miss"]}))
""")


class _Touch:
    """A pickle that creates a file when loaded: what an attacker would put into a shared cache."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _child(cache, width):
    env = {k: v for k, v in os.environ.items() if k != ENV}
    r = subprocess.run([sys.executable, "-c", CHILD, str(cache), str(width)], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "stderr": r.stderr}


def test_a_second_process_loads_the_compiled_vae_and_another_shape_compiles_anew(tmp_path):
    cold = _child(tmp_path, 8)
    assert cold["misses"] >= 1 and cold["hits"] == 0, cold
    assert cold["err"] < 1e-4, cold  # the compiled encoder and decoder compute what eager does (fp32)
    assert os.path.dirname(cold["folder"]) == str(tmp_path.resolve())
    warm = _child(tmp_path, 8)
    assert warm["hits"] >= 1 and warm["misses"] == 0, warm  # nothing compiled again
    assert warm["err"] < 1e-4, warm
    other = _child(tmp_path, 12)  # another latent width: its own entry, not the 8-wide graph
    assert other["misses"] >= 1 and other["hits"] == 0, other
    assert other["err"] < 1e-4, other

    # Whoever can write the cache: a pickle planted beside each graph, and every graph replaced by junk. Inductor
    # unpickles every file of a graph's folder; evs removes what it did not write before PyTorch looks.
    marker = tmp_path / "ran"
    planted = pickle.dumps(_Touch(str(marker)))
    graphs = [p for p in (tmp_path / os.path.basename(cold["folder"]) / "fxgraph").rglob("*") if p.is_file()]
    assert graphs
    for g in graphs:
        g.write_bytes(b"junk from a full disk")
        (g.parent / "zz-planted").write_bytes(planted)
    again = _child(tmp_path, 8)
    assert not marker.exists()  # the planted pickle never ran
    assert not any(p.name == "zz-planted" for p in tmp_path.rglob("*"))
    assert again["misses"] >= 1 and again["err"] < 1e-4, again  # compiled again, quietly
    assert "Traceback" not in again["stderr"] and "unable to load" not in again["stderr"], again["stderr"][-3000:]


def test_the_cache_folder_is_keyed_by_torch_python_and_device(monkeypatch):
    key = machine_key("cpu")
    assert key.startswith(f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}-cpu".replace("+", "-"))
    assert machine_key("cpu") == key  # stable
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    assert machine_key("cpu") != key
    monkeypatch.undo()
    monkeypatch.setattr(compile_cache, "device_model", lambda device: "NVIDIA H100 80GB HBM3 sm90 cuda12.8")
    gpu = machine_key("cuda")
    assert gpu != key and "H100" in gpu and "sm90" in gpu


def test_where_the_cache_lives(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = use_compile_cache(None, "cpu")
    assert folder == tmp_path / "xdg" / "evs" / "compile" / machine_key("cpu") and folder.is_dir()
    assert os.environ[ENV] == str(folder.resolve())
    mine = use_compile_cache(tmp_path / "mine", "cpu")  # --compile-cache DIR
    assert mine.parent == tmp_path / "mine" and os.environ[ENV] == str(mine.resolve())
    monkeypatch.setenv(ENV, str(tmp_path / "theirs"))  # a TORCHINDUCTOR_CACHE_DIR the user set is kept as is
    assert use_compile_cache(None, "cpu") == tmp_path / "theirs"
