"""Video and text in and out: decode and encode video (`video`), find the inputs a command line
names (`inputs`), and find each video's prompt (`prompts`).

Layer rule: imports only `evs_cli.errors` and its own modules (never the engine: a video is frames,
not latents).
"""
