"""The README and docs/ stay true: the promise table names tests that exist, every path they cite exists, and
every `evs` command they show uses a command and options that evs has. The README stays short."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_test_the_promise_table_names_exists():
    batch = _text(ROOT / "docs" / "batch.md")
    section = batch[batch.index("## What evs promises"):]
    section = section[:section.index("\n## ")]
    named = set(re.findall(r"`(test_\w+)`", section))
    assert len(named) >= 10
    defined = set()
    for f in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", f.read_text(), re.MULTILINE))
    assert named <= defined, f"named in docs/batch.md but not defined: {sorted(named - defined)}"


def test_the_readme_is_short_and_starts_with_the_demo_and_a_toy_folder_refine():
    lines = _text(ROOT / "README.md").splitlines()
    assert len(lines) <= 250
    head = "\n".join(lines[:60])
    assert "evs demo" in head and "evs refine my-clips/ --preset toy" in head and "pytest" in head


_TOPS = ("evs_cli/", "scripts/", "tests/", "presets/", "docs/", ".ci/")


def _cited_paths(path: Path):
    """Relative links, and code spans that name a file or folder of the repository."""
    text = _text(path)
    for target in re.findall(r"\]\(([^)#\s]+)\)", text):
        if "://" not in target:
            yield target, path.parent / target
    for span in re.findall(r"`([^`\s]+)`", text):
        span = span.split(":")[0].rstrip(".,;")
        if not re.fullmatch(r"[\w.-]+(/[\w.*-]+)*/?", span) or "*" in span or span.startswith("~"):
            continue
        if span.startswith(_TOPS) or span in ("pyproject.toml", "README.md"):
            yield span, ROOT / span
        elif re.fullmatch(r"(engine|batch|tune|io|eval|toy|cli)/[\w/]+\.py", span):  # a module of evs_cli
            yield span, ROOT / "evs_cli" / span


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_a_doc_cites_exists(doc):
    cited = list(_cited_paths(doc))
    missing = sorted({name for name, path in cited if not path.exists()})
    assert not missing, f"{doc.name} cites what the repository does not have: {missing}"


def _evs_commands(text: str):
    """The `evs ...` command lines of the docs' shell blocks, as argument lists (comments and pipes cut)."""
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():  # continued lines joined
            for part in re.split(r"&&|\|\||;|\|", line.split("  #")[0]):
                words = shlex.split(part, comments=True)
                if words and words[0] == "evs":
                    yield words[1:]


def _options(command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}


def test_every_evs_command_in_the_docs_has_that_command_and_its_options():
    from typer.main import get_command

    from evs_cli.cli import app

    root = get_command(app)
    seen = 0
    for doc in DOCS:
        for words in _evs_commands(_text(doc)):
            command, rest = root, list(words)
            while rest and hasattr(command, "commands") and not rest[0].startswith("-"):
                name = rest.pop(0)
                assert name in command.commands, f"{doc.name}: evs has no command {name!r} ({' '.join(words)})"
                command = command.commands[name]
            if hasattr(command, "commands"):  # `evs --version`
                assert set(rest) <= _options(command), f"{doc.name}: evs {' '.join(words)}"
                continue
            flags = {w.split("=")[0] for w in rest if w.startswith("-") and w != "-"}
            unknown = flags - _options(command)
            assert not unknown, f"{doc.name}: `evs {' '.join(words)}` uses options evs {command.name} lacks: {unknown}"
            seen += 1
    assert seen >= 15
