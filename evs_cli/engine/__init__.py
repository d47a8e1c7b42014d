"""The engine: the method itself, frames in and refined frames out, for loaded models.

At the top, the method, as pure as a k-diffusion sampler: grids and pure steps (`diffusion`), the schedule as
data (`stages`) and its loop, the paper's Algorithm 1 (`schedule`), Selective Feature Injection (`sfi`), the
models as denoisers with CFG, chunks and temporal windows (`denoisers`, `windows`), motion-module families and
the T2V sampling each was made for (`families`), presets (`preset`) and what each of their keys changes
(`keys`: the fingerprint's, a tune's stage context, a composition's keys), layer names (`layers`), per-model options
and LoRA specs (`options`), the device clock (`timing`), the `Engine` that ties them together (`pipeline`), and
one video under many schedules with their common first stages run once (`shared`). The shipped SD1.5 configs
are data (`configs/`).

`loaders/`: where models come from and how they are read (hub ids, folders, single files, formats, LoRAs,
VAEs, family detection, fit). `runtime/`: process and compile set-up (speed-ups, the compile cache and what of
it is trusted). The top imports neither the hub nor a file format and sets no environment variable.

Layer rule: imports only `evs_cli.errors` and its own modules. Nothing here knows about files of
videos, folders, processes or the command line.
"""
