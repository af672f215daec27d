"""Run a benchmark script with another checkout's ``dedup`` and read what it printed last.

Before and after come from one run: a script runs itself (or a part of itself) in a fresh
process whose ``PYTHONPATH`` is a checkout's root, and prints its result as one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_under(code: Path, script: str, *args: str, cwd: Path | None = None) -> Any:
    """The JSON of the last line ``python script args`` prints, importing dedup from ``code``."""
    out = subprocess.run([sys.executable, script, *args], env=checkout_env(code), check=True,
                         capture_output=True, text=True, cwd=cwd).stdout
    return json.loads(out.strip().splitlines()[-1])


def checkout_env(code: Path) -> dict[str, str]:
    """This process's environment, with ``dedup`` imported from the checkout ``code``."""
    return {**os.environ, "PYTHONPATH": str(code)}
