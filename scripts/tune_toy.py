"""Does `evs tune` choose well? The toy world's check, on clips that neither training nor tuning saw.

For each degradation family: write 4 tuning clips (and their clean versions) as files, run `evs tune` on
them through the command line with --reference over a grid of tI, tT2V, tV, nV and the composition, and
again without --reference; then score the shipped `toy` preset and each choice on 8 other clips of that
family, measured by `evs tune` itself (a grid of that one setting: the same files and measures). Prints, per family, every measure for
input / shipped / tuned, the rule's objective on the tune's own ranges (each clip relative to its input, as the
rule takes them), and the clip-to-clip spread of the paired difference (tuned - shipped); copies each
tradeoff.png to --out and writes summary.json.

    python scripts/tune_toy.py --out tune-toy            # about 25 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

GRID = ["tI=2,4,6,10", "tT2V=1,2,3", "tV=1,2,3", "nV=1,2", "composition=evs,t2v,t2i"]
MEASURES = ("warp_error", "flicker", "psnr", "ssim", "sharpness_gap")


def tune(clips: Path, out: Path, reference: Path | None, prefer: str, grid, sample: int = 4) -> None:
    cmd = [sys.executable, "-m", "evs_cli.cli", "tune", str(clips), "--preset", "toy", "--out", str(out),
           "--sample", str(sample), "--prefer", prefer, "--weight-free", *(a for g in grid for a in ("--grid", g))]
    if reference is not None:
        cmd += ["--reference", str(reference)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"evs tune failed ({r.returncode}):\n{r.stderr}")
    print(r.stdout)


def plan_of(folder: Path, clips: Path, reference: Path | None, prefer: str, grid, sample: int):
    """The tune's own plan over its folder, rebuilt with the command's functions (not a copy of them)."""
    from evs_cli.batch.options import RunOptions
    from evs_cli.engine.preset import load_preset
    from evs_cli.tune.run import TuneRequest, make_plan

    req = TuneRequest((str(clips),), RunOptions(load_preset("toy")), folder, sample=sample, grid=tuple(grid),
                      prefer=prefer, reference=reference, weighted=False)
    return make_plan(req)


def choice_of(plan, prefer: str):
    from evs_cli.tune.choose import choose
    from evs_cli.tune.measures import used
    from evs_cli.tune.run import results

    per, inputs = results(plan)
    rows = [*inputs.values(), *(r for v in per.values() for r in v.values())]
    choice = choose(per, inputs, "base", prefer, used(rows))
    return choice, next(s for s in plan.settings if s.label == choice.chosen.label)


def held_out(test_dir: Path, clean_dir: Path, out: Path, setting, prefer: str) -> tuple[dict, dict, dict]:
    """Scores per clip of the input, the shipped preset and `setting` on the held-out clips, measured by `evs
    tune` itself (the same files, decoding and measures as the tune; a base-only grid when it is the base)."""
    from evs_cli.tune.run import results

    grid = [f"{k}={v if not isinstance(v, list) else '[' + ','.join(map(str, v)) + ']'}" for k, v in setting.values]
    if not setting.is_base:
        tune(test_dir, out, clean_dir, prefer, grid, sample=100)
        plan = plan_of(out, test_dir, clean_dir, prefer, grid, 100)
        per, inputs = results(plan)
        other = next(s.label for s in plan.settings if not s.is_base)
        return inputs, per["base"], per[other]
    tune(test_dir, out, clean_dir, prefer, ["tV=2"], sample=100)  # the base's pairs are what counts here
    per, inputs = results(plan_of(out, test_dir, clean_dir, prefer, ["tV=2"], 100))
    return inputs, per["base"], per["base"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("tune-toy"))
    ap.add_argument("--families", default="shimmer,flicker,noise,blocky")
    ap.add_argument("--tune-seeds", default="400-403")
    ap.add_argument("--test-seeds", default="500-507")
    ap.add_argument("--prefer", default="balanced")
    args = ap.parse_args()

    from evs_cli.toy.bench import write_clip_folders
    from evs_cli.tune.choose import mean_relative, objective

    def seeds(text):
        a, b = map(int, text.split("-"))
        return list(range(a, b + 1))

    summary = {}
    for fam in args.families.split(","):
        root = args.out / fam
        clips_dir, clean_dir = write_clip_folders(root / "clips", seeds(args.tune_seeds), fam)
        test_dir, test_clean = write_clip_folders(root / "test", seeds(args.test_seeds), fam)
        picks = {}
        for name, ref in (("with-reference", clean_dir), ("no-reference", None)):
            tune(clips_dir, root / name, ref, args.prefer, GRID)
            shutil.copy(root / name / "tradeoff.png", args.out / f"tradeoff-{fam}-{name}.png")
            picks[name] = choice_of(plan_of(root / name, clips_dir, ref, args.prefer, GRID, 4), args.prefer)
        (choice, setting), (blind, blind_setting) = picks["with-reference"], picks["no-reference"]
        inputs, shipped, tuned = held_out(test_dir, test_clean, root / "held-out", setting, args.prefer)
        _, _, tuned_blind = held_out(test_dir, test_clean, root / "held-out-blind", blind_setting, args.prefer)
        videos = sorted(inputs)
        rows = {"input": inputs, "shipped": shipped, "tuned": tuned, "tuned, no reference": tuned_blind}
        ms = choice.measures
        per_clip = {k: [objective(mean_relative({c: v[c]}, {c: inputs[c]}, ms), choice.ranges, args.prefer)
                        for c in videos] for k, v in rows.items()}
        diff = np.array(per_clip["tuned"]) - np.array(per_clip["shipped"])
        fam_sum = {"chosen": choice.chosen.label, "chosen_without_reference": blind.chosen.label, "rows": {}}
        for k, v in rows.items():
            means = {m: float(np.mean([v[c][m] for c in videos])) for m in MEASURES}
            fam_sum["rows"][k] = {**means, "objective": objective(mean_relative(v, inputs, ms), choice.ranges,
                                                                  args.prefer)}
        sd = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
        fam_sum["difference"] = {"mean": float(diff.mean()), "std": sd, "sem": sd / np.sqrt(len(diff)),
                                 "clips_better": int((diff < 0).sum()), "clips": len(diff)}
        fam_sum["no_reference_beats_input_on"] = {
            m: int(sum(tuned_blind[c][m] < inputs[c][m] for c in videos)) for m in ("warp_error", "flicker")}
        summary[fam] = fam_sum
        _print(fam, fam_sum)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))


def _print(fam: str, s: dict) -> None:
    print(f"\n## {fam}: chosen {s['chosen']!r} (without --reference: {s['chosen_without_reference']!r})")
    print(f"{'':<22}" + "".join(f"{m:>14}" for m in (*MEASURES, "objective")))
    for k, r in s["rows"].items():
        print(f"{k:<22}" + "".join(f"{r[m]:>14.4f}" for m in (*MEASURES, "objective")))
    d = s["difference"]
    print(f"tuned - shipped objective per clip: mean {d['mean']:+.4f}, std {d['std']:.4f}, sem {d['sem']:.4f}; "
          f"tuned better on {d['clips_better']} of {d['clips']} clips")
    print(f"no-reference choice beats the input on {s['no_reference_beats_input_on']} of {d['clips']} clips")


if __name__ == "__main__":
    main()
