"""The package's layers stay layers: no module imports from a layer above its own, and no import cycle.

Every `import` and `from ... import` counts, also those inside functions (imported lazily to keep
start-up fast, they are dependencies all the same).
"""

import ast
import re
from pathlib import Path

import pytest

import evs_cli

# Lowest first. A module may import from its own layer and from the layers before it.
LAYERS = ["version", "errors", "engine", "io", "eval", "batch", "tune", "toy", "cli", "api"]


def layer_of(module: str, package: str) -> str:
    parts = module.split(".")
    if parts == [package]:
        return "api"  # the package's __init__: the public API re-exports from the layers
    return parts[1]


def module_files(root: Path, package: str) -> dict[str, Path]:
    files = {}
    for f in sorted(root.rglob("*.py")):
        parts = [package, *f.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = f
    return files


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's own modules that `name` imports (a package imported for a submodule counts as that)."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import pkg.mod.attr` -> the module that holds it
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def violations(root: Path, package: str) -> list[str]:
    modules = module_files(root, package)
    graph = {m: imports_of(m, f, modules) for m, f in modules.items()}
    problems = []
    for m, deps in graph.items():
        for d in sorted(deps):
            if LAYERS.index(layer_of(d, package)) > LAYERS.index(layer_of(m, package)):
                problems.append(f"upward import: {m} ({layer_of(m, package)}) imports {d} ({layer_of(d, package)})")
    state: dict[str, int] = {}  # 1 on the current path, 2 finished

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                problems.append("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return problems


def test_no_upward_or_cyclic_import_in_evs_cli():
    root = Path(evs_cli.__file__).parent
    assert violations(root, "evs_cli") == []
    # Every module sits in a known layer (a new top-level module must be placed on purpose).
    for m in module_files(root, "evs_cli"):
        assert layer_of(m, "evs_cli") in LAYERS, f"{m} is in no layer; add it to a layer folder"


def test_every_layer_package_says_what_it_may_import():
    root = Path(evs_cli.__file__).parent
    for layer in LAYERS[2:-1]:  # version and errors are single modules, api is the package itself
        doc = ast.get_docstring(ast.parse((root / layer / "__init__.py").read_text()))
        assert doc and "import" in doc, f"evs_cli/{layer}/__init__.py must say what the layer may import"


@pytest.fixture
def fake_package(tmp_path):
    pkg = tmp_path / "pkg"
    for d in ("engine", "batch", "cli"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .engine.core import run\n")
    (pkg / "errors.py").write_text("")
    (pkg / "engine" / "core.py").write_text("from ..errors import *\ndef run():\n    from ..batch import jobs\n")
    (pkg / "batch" / "jobs.py").write_text("from ..engine import core\nfrom . import pool\n")
    (pkg / "batch" / "pool.py").write_text("import pkg.batch.jobs\n")
    return pkg


def test_the_checker_finds_upward_imports_and_cycles(fake_package):
    found = violations(fake_package, "pkg")
    assert "upward import: pkg.engine.core (engine) imports pkg.batch.jobs (batch)" in found
    assert any(p.startswith("import cycle: pkg.batch.jobs -> pkg.batch.pool -> pkg.batch.jobs") for p in found)
    assert not any("pkg.errors" in p or p.startswith("upward import: pkg ") for p in found)


def test_every_package_docstring_names_each_of_its_modules():
    root = Path(evs_cli.__file__).parent
    for layer in LAYERS[2:-1]:
        doc = ast.get_docstring(ast.parse((root / layer / "__init__.py").read_text()))
        for f in sorted((root / layer).glob("*.py")):
            if f.stem != "__init__":
                assert re.search(rf"\b{f.stem}\b", doc), f"evs_cli/{layer}/__init__.py does not name {f.stem}"


def test_tune_starts_no_process_or_actor_itself():
    """tune runs on batch's dispatch seam (tune/work.py): its workers are batch's processes and actors."""
    root = Path(evs_cli.__file__).parent / "tune"
    for f in sorted(root.glob("*.py")):
        tree = ast.parse(f.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        started = {x for x in names if x.split(".")[0] in ("multiprocessing", "ray", "subprocess", "concurrent")}
        assert not started, f"{f.name} imports {sorted(started)}"
        assert "remote(" not in f.read_text(), f"{f.name} starts a Ray actor"


def test_the_engines_top_is_the_method_alone():
    """Loaders (hub, files, formats) live in engine/loaders, process and compile set-up in engine/runtime: the
    modules at engine/'s top import neither the hub, a file format nor a loader, and set no environment variable."""
    root = Path(evs_cli.__file__).parent / "engine"
    for f in sorted(root.glob("*.py")):
        tree = ast.parse(f.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {("." * n.level) + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        banned = {x for x in names if x.split(".")[0] in ("huggingface_hub", "safetensors")
                  or x.lstrip(".").startswith("loaders") or "single_file" in x}
        assert not banned, f"{f.name} imports {sorted(banned)}"
        assert not re.search(r"os\.environ(\[|\.setdefault|\.update)|putenv", f.read_text()), f"{f.name} sets the environment"
