"""Write the sample that ships with the package: one held-out toy clip, degraded, and its clean source.

    python scripts/make_toy_sample.py            # -> evs_cli/toy/sample/
"""

from pathlib import Path

import torch

from evs_cli.io.video import write_mp4
from evs_cli.toy.data import degrade, render, spec_for
from evs_cli.toy.demo import SAMPLE_SEED


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "evs_cli" / "toy" / "sample"
    out.mkdir(parents=True, exist_ok=True)
    spec = spec_for(SAMPLE_SEED)
    clean = render(spec)
    (out / "clean").mkdir(exist_ok=True)
    write_mp4(torch.from_numpy(degrade(clean, SAMPLE_SEED)), out / f"{spec.prompt}-0.mp4", 8, crf=4)
    write_mp4(torch.from_numpy(clean), out / "clean" / f"{spec.prompt}-0.mp4", 8, crf=4)
    print(out, spec.prompt)


if __name__ == "__main__":
    main()
