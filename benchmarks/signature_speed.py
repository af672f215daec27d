"""Acquisition signature speed: this tree against an older revision, in one run.

Times :func:`dedup.fingerprint.detail.acquisition` per image for generated greyscale images
of 256, 512 and 1024 pixels a side and 8-bit colour ones, against the same function of
another revision (loaded with ``git show``; by default the last of signature version 1) or
of another checkout (``--baseline DIR``), with that code's grid and projection modules.
The two are timed in alternation, in process CPU time, and the best of the rounds is kept,
so that a machine busy with other work slows both alike; the ratio is the result.

Usage: ``python benchmarks/signature_speed.py [--base 11b9d69 | --baseline DIR] [--rounds 25]``.
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


def older(revision: str | None, checkout: Path | None = None) -> ModuleType:
    """The signature module of ``revision`` (or of another ``checkout``), numpy only.

    Its grid and projection modules come from the same place (where they exist), so the
    older code is timed whole, not with this tree's helpers; imported from temporary files.
    """
    def source(name: str) -> str | None:
        path = f"dedup/fingerprint/{name}.py"
        if checkout is not None:
            file = checkout / path
            return file.read_text() if file.exists() else None
        shown = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=REPO,
                               capture_output=True, text=True)
        return shown.stdout if shown.returncode == 0 else None

    folder = Path(tempfile.mkdtemp())
    module = None
    for name in ("grid", "projection", "detail"):
        text = source(name)
        if text is None:
            continue
        for other in ("grid", "projection"):
            text = text.replace(f"from dedup.fingerprint.{other} import",
                                f"from {other}_base import")
        path = folder / f"{name}_base.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"{name}_base", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"{name}_base"] = module
        spec.loader.exec_module(module)
    assert module is not None
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
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    base = older(args.base, args.baseline)
    label = args.baseline or args.base
    print(f"| image | {label} ms | this tree ms | ratio | same bytes |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, pixels in images().items():
        number = max(3, int(2e7 // pixels.size))
        then, now = [], []
        for _ in range(args.rounds):  # alternating: a busy machine slows both alike
            then.append(best(lambda: base.acquisition(pixels), number))  # noqa: B023
            now.append(best(lambda: detail.acquisition(pixels), number))  # noqa: B023
        same = base.acquisition(pixels) == detail.acquisition(pixels)
        print(f"| {name} | {min(then) * 1e3:.3f} | {min(now) * 1e3:.3f} | "
              f"{min(then) / min(now):.2f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
