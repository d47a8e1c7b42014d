"""`python -m evs_cli.cli`, as the `evs` command."""

from . import main

main()
