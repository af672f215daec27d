"""``python -m dedup``."""

from dedup.cli.main import main

if __name__ == "__main__":  # worker processes import this module too: never re-run the CLI
    main()
