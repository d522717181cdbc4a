"""`python -m distill.cli` runs the command line (the demo uses it)."""

from . import main

main()
