"""`evs refine --dry-run`: the plan the run would execute, printed; checked as far as possible without a model."""

from __future__ import annotations

import sys

from rich.table import Table

from ..batch.planning.memory import check_fits
from ..batch.planning.plan import Action, Plan
from ..engine.families import matching
from ..engine.loaders.family_detect import sampling_note
from ..engine.loaders.sources import model_roles, uncached
from ..engine.options import guided_at
from ..errors import EvsError, one_line
from ..io.prompts import resolve_prompt
from .app import EXIT_FAILED, EXIT_OK, console


def print_plan(plan: Plan) -> int:
    """The stage table, then one tab-separated line per video (action, input, output, prompt source, prompt;
    `skip` and `fail` lines give the reason instead of the prompt), then the counts. Returns the exit code the
    run would end with if every refinement worked."""
    print_stages(plan)
    counts = {"refine": 0, "skip": 0, "fail": 0, "link": 0}
    print("action\tinput\toutput\tprompt from\tprompt or reason")
    rows = [(job, _preview(plan, job, decision)) for job, decision in zip(plan.jobs, plan.decisions)]
    rows += [(alias, _alias(plan, alias, job)) for alias, job in plan.aliases]
    for job, (action, source, text) in rows:
        counts[action] += 1
        print(f"{action}\t{one_line(job.input)}\t{one_line(job.output)}\t{source}\t{_one_line(text)}")
    n = len(rows)
    linked = f", {counts['link']} to link" if counts["link"] else ""
    print(f"{n} video{'' if n == 1 else 's'}: {counts['refine']} to refine, {counts['skip']} to skip{linked}, "
          f"{counts['fail']} would fail")
    return EXIT_FAILED if counts["fail"] else EXIT_OK


def _preview(plan: Plan, job, decision) -> tuple[str, str, str]:
    """(action, prompt source, prompt or reason): the plan's decision, and for a video to refine the checks a
    worker makes before decoding it (its size, its memory, its prompt)."""
    if decision.action is not Action.REFINE:
        return decision.action.value, "-", decision.reason
    o = plan.options
    try:
        check_fits(job.input, o)
        prompt, source = resolve_prompt(job.input, job.rel, o.prompts.text, o.prompts.table)
    except (EvsError, OSError, UnicodeDecodeError) as e:
        return "fail", "-", str(e)
    return "refine", source, prompt


def _alias(plan: Plan, alias, job) -> tuple[str, str, str]:
    """Another path to `job`'s input: its output is a link of the video's result (batch.aliases)."""
    d = plan.judge(alias)
    if d.action is not Action.REFINE:
        return d.action.value, "-", d.reason
    return "link", "-", f"same file as {job.input}: its output will be a link of {job.output}"


def print_stages(plan: Plan) -> None:
    from ..engine.stages import count_calls

    p, grids = plan.options.preset, plan.grids
    t = Table(title=f"preset {p.name}: {p.data['schedule']['composition']} ({p.source})", title_justify="left")
    for col in ("#", "model", "start", "calls", "timesteps", "injection"):
        t.add_column(col)
    for i, s in enumerate(plan.stages):
        levels = grids[s.model].levels(s.start, s.calls)
        inj = (f"invert, gamma={s.injection.gamma}, layers={','.join(s.injection.layers)}" if s.injection
               else ("invert" if s.mode == "invert" else "sdedit"))
        t.add_row(str(i), s.model, f"{s.mode} at {s.start}/{grids[s.model].steps} (t={levels[0]})", str(s.calls),
                  " ".join(map(str, levels)), inj)
    console().print(t)
    n = count_calls(plan.stages)
    levels = {m: [t for s in plan.stages if s.model == m for t in grids[m].levels(s.start, s.calls)]
              for m in ("t2i", "t2v")}
    print(f"model calls: t2i {n['t2i']}, t2v {n['t2v']}, inversion t2i {n['t2i_inversion']}, "
          f"t2v {n['t2v_inversion']}; t2i guidance {p.t2i.guidance} ({_passes(p.t2i, levels['t2i'])}), "
          f"t2v guidance {p.t2v.guidance} ({_passes(p.t2v, levels['t2v'])})")
    t2i, t2v = p.t2i, p.t2v
    loras = "".join(f"; {name} LoRAs {', '.join(m.loras)}" for name, m in (("t2i", t2i), ("t2v", t2v)) if m.loras)
    print(f"models: t2i {p.t2i_model}; t2v {p.t2v_model}" + (f"; vae {p.vae_model}" if p.vae_model else "") + loras)
    missing = uncached(model_roles(p.t2i_model, p.t2v_model, p.vae_model, p.tokenizer))
    if missing:
        print("not in the Hugging Face cache (the first run downloads them, or fails without network): "
              + ", ".join(f"{what} {source}" for what, source in missing))
    print(f"t2v sampling: {t2v.scheduler} {t2v.scheduler_config}, {t2v.steps} steps, guidance {t2v.guidance}"
          + (f" (family {t2v.family})" if t2v.family else _unnamed(p.data["t2v"])))
    for note in (*p.family_notes, sampling_note(p)):
        if note:
            print(f"evs: warning: {note}", file=sys.stderr)


def _unnamed(t2v: dict) -> str:
    same = matching(t2v)
    return f" (no t2v.family: the preset's own, which is {same}'s)" if same else " (no t2v.family: the preset's own)"


def _passes(opts, levels: list[int]) -> str:
    """How a model's calls are guided: one batched cond+uncond pass each, on some (the guidance interval), or none."""
    if opts.guidance == 1:
        return "no uncond pass"
    if opts.guidance_interval is None:
        return "one batched cond+uncond pass"
    lo, hi = opts.guidance_interval
    guided = sum(guided_at(opts.guidance_interval, t) for t in levels)
    return f"a batched cond+uncond pass on {guided} of {len(levels)} calls, those at t in {lo}..{hi}"


def _one_line(text) -> str:
    return one_line(" ".join(str(text).split()))
