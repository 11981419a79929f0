"""`python -m scribe` runs the command-line interface."""

from scribe.cli import main

main()
