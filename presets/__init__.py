# Shipped presets, installed as the package data `evs_cli.presets` (see pyproject.toml).
