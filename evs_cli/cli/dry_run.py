"""`evs refine --dry-run`: what would happen to each input, checked as far as possible without a model."""

from __future__ import annotations

from ..batch.job import RunOptions, check_size
from ..batch.outputs import Job, output_exists
from ..errors import EvsError, one_line
from ..io.prompts import resolve_prompt
from .app import EXIT_FAILED, EXIT_OK


def print_plan(jobs: list[Job], options: RunOptions) -> int:
    """One tab-separated line per video (action, input, output, prompt source, prompt; `fail` lines give the
    error instead), then the counts. Returns the exit code the run would end with if every refinement worked."""
    counts = {"refine": 0, "skip": 0, "fail": 0}
    print("action\tinput\toutput\tprompt from\tprompt")
    for j in jobs:
        if output_exists(j.output) and not options.overwrite:
            counts["skip"] += 1
            print(f"skip (output exists)\t{one_line(j.input)}\t{one_line(j.output)}\t-\t-")
            continue
        try:
            check_size(j.input, options.preset.resize, options.max_pixels)
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
