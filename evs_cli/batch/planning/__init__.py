"""Planning a run, before any model loads: what each video's output is and whether to refine it.

    plan.py        the plan: stages and grids, videos and outputs, one decision per video (decide)
    outputs.py     where each result goes; temporary names (created exclusively) and renames
    aliases.py     another path to a video in the run (a symlink): its output is a link of the one result
    settings.py    what made an output (settings fingerprint, prompt, input file) and its comment tag
    timeouts.py    how long a video may take (--timeout) before it fails alone, and the marker of a stuck one
    memory.py      will a video fit (pixels, host, cgroup and device memory), checked before decoding
"""
