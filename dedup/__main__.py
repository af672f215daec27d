"""``python -m dedup``."""

from dedup.cli.main import main

main()
