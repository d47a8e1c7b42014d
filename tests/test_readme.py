"""README.md's promises name the tests that hold evs to them: each named test must exist."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_test_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### What evs promises"):]
    section = section[:section.index("\n## ")]
    named = set(re.findall(r"`(test_\w+)`", section))
    assert len(named) >= 10
    defined = set()
    for f in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", f.read_text(), re.MULTILINE))
    assert named <= defined, f"named in README but not defined: {sorted(named - defined)}"
