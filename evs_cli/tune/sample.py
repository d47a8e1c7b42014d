"""Which videos a tune looks at: a seeded sample spread over the inputs' subfolders (a VBench folder of
dimensions, a folder per prompt set), so that one folder does not stand for all."""

from __future__ import annotations

import random
from pathlib import Path


def sample(found: list[tuple[Path, Path]], n: int, seed: int = 0) -> list[tuple[Path, Path]]:
    """`n` of the (file, relative path) pairs, the same for the same seed and inputs in any listing order:
    each subfolder shuffled, then taken in turn (the subfolders themselves in a shuffled order)."""
    rng = random.Random(seed)
    groups: dict[str, list[tuple[Path, Path]]] = {}
    for f, rel in sorted(found, key=lambda x: x[1].as_posix()):
        groups.setdefault(rel.parent.as_posix(), []).append((f, rel))
    order = sorted(groups)
    rng.shuffle(order)
    for g in order:
        rng.shuffle(groups[g])
    picked: list[tuple[Path, Path]] = []
    while len(picked) < n and any(groups.values()):
        for g in order:
            if groups[g] and len(picked) < n:
                picked.append(groups[g].pop(0))
    return sorted(picked, key=lambda x: x[1].as_posix())
