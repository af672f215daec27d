"""Acquisition signature speed: this tree against an older revision, in one run.

Times :func:`dedup.fingerprint.detail.acquisition` per image for generated greyscale images
of 256, 512 and 1024 pixels a side and 8-bit colour ones, against the same function of
another revision (loaded with ``git show``; by default the last of signature version 1).
The two are timed in alternation, in process CPU time, and the best of the rounds is kept,
so that a machine busy with other work slows both alike; the ratio is the result.

Usage: ``python benchmarks/signature_speed.py [--base 11b9d69] [--rounds 25]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from dedup.fingerprint import detail

REPO = Path(__file__).resolve().parent.parent


def older(revision: str) -> ModuleType:
    """The signature module of ``revision`` (numpy only), imported from a temporary file."""
    source = subprocess.run(["git", "show", f"{revision}:dedup/fingerprint/detail.py"],
                            cwd=REPO, check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "detail_base.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("detail_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["detail_base"] = module
    spec.loader.exec_module(module)
    return module


def images() -> dict[str, np.ndarray]:
    """(frames, rows, cols, samples) arrays: 12-bit noisy greyscale and 8-bit colour."""
    rng = np.random.default_rng(0)

    def grey(side: int) -> np.ndarray:
        values = rng.standard_normal((1, side, side, 1)) * 100 + 2000
        return np.clip(values, 0, 4095).astype(np.uint16)

    return {"256 x 256": grey(256), "512 x 512": grey(512), "1024 x 1024": grey(1024),
            "512 x 512 RGB": rng.integers(0, 256, (1, 512, 512, 3), dtype=np.uint8),
            "480 x 640 RGB": rng.integers(0, 256, (1, 480, 640, 3), dtype=np.uint8)}


def best(function: Callable[[], object], number: int) -> float:
    """Seconds of process CPU time per call, over ``number`` calls."""
    return timeit.timeit(function, number=number, timer=time.process_time) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="11b9d69", help="revision to compare with")
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    base = older(args.base)
    print(f"| image | {args.base} ms | this tree ms | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, pixels in images().items():
        number = max(3, int(2e7 // pixels.size))
        then, now = [], []
        for _ in range(args.rounds):  # alternating: a busy machine slows both alike
            then.append(best(lambda: base.acquisition(pixels), number))  # noqa: B023
            now.append(best(lambda: detail.acquisition(pixels), number))  # noqa: B023
        print(f"| {name} | {min(then) * 1e3:.3f} | {min(now) * 1e3:.3f} | "
              f"{min(then) / min(now):.2f} |")


if __name__ == "__main__":
    main()
