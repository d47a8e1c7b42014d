"""The engine: the method itself, frames in and refined frames out, for loaded models.

Grids and pure steps (`diffusion`), the schedule as data (`stages`) and its loop, the paper's
Algorithm 1 (`schedule`), Selective Feature Injection (`sfi`), the models as denoisers with CFG,
chunks and temporal windows (`denoisers`, `windows`), model sources and their checks (`sources`),
loading and the shipped SD1.5 configs (`models`, `configs/`), the T2V UNet on the T2I's spatial
modules (`motion_unet`), motion-module weight files in either layout (`motion_files`), motion-module
families and their T2V sampling (`families`), whether the models fit each other (`fit`), LoRAs switched
per stage (`loras`), presets (`preset`),
layer names (`layers`), per-call options (`options`), the device clock (`timing`), compile and memory-layout
speed-ups (`speed`), where compiled graphs last (`compile_cache`) and what of them
is trusted (`cache_trust`), the `Engine` that ties them
together (`pipeline`), and one video under many schedules with their common first stages run once
(`shared`).

Layer rule: imports only `evs_cli.errors` and its own modules. Nothing here knows about files of
videos, folders, processes or the command line.
"""
