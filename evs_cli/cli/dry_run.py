"""`evs refine --dry-run`: what would happen to each input, checked as far as possible without a model."""

from __future__ import annotations

from ..batch.job import RunOptions, check_fits
from ..batch.outputs import Job, output_exists
from ..batch.settings import decide_existing, fingerprint
from ..errors import EvsError, one_line
from ..io.prompts import resolve_prompt
from .app import EXIT_FAILED, EXIT_OK


def print_plan(jobs: list[Job], options: RunOptions, resume: str = "same") -> int:
    """One tab-separated line per video (action, input, output, prompt source, prompt; `skip` and `fail` lines
    give the reason instead of the prompt), then the counts. Returns the exit code the run would end with if
    every refinement worked.

    An existing output is judged as the run itself judges it (batch.settings.decide_existing)."""
    counts = {"refine": 0, "skip": 0, "fail": 0}
    settings = fingerprint(options)
    print("action\tinput\toutput\tprompt from\tprompt or reason")
    for j in jobs:
        if output_exists(j.output) and not options.overwrite:
            action, why, _ = decide_existing(j.output, settings, resume)
            if action == "skip":
                counts["skip"] += 1
                print(f"skip\t{one_line(j.input)}\t{one_line(j.output)}\t-\t{why}")
            else:
                counts["fail"] += 1
                print(f"fail\t{one_line(j.input)}\t{one_line(j.output)}\t-\t{_one_line(why)}")
            continue
        try:
            check_fits(j.input, options)
            prompt, source = resolve_prompt(j.input, j.rel, options.prompt, options.prompt_table)
        except (EvsError, OSError, UnicodeDecodeError) as e:
            counts["fail"] += 1
            print(f"fail\t{one_line(j.input)}\t{one_line(j.output)}\t-\t{_one_line(e)}")
            continue
        counts["refine"] += 1
        print(f"refine\t{one_line(j.input)}\t{one_line(j.output)}\t{source}\t{_one_line(prompt)}")
    print(f"{len(jobs)} video{'' if len(jobs) == 1 else 's'}: {counts['refine']} to refine, {counts['skip']} to skip, "
          f"{counts['fail']} would fail")
    return EXIT_FAILED if counts["fail"] else EXIT_OK


def _one_line(text) -> str:
    return one_line(" ".join(str(text).split()))
