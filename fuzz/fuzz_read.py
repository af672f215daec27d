"""Coverage-guided fuzzing of the DICOM reading path with atheris (libFuzzer).

Every input is written to a file and read exactly as the indexer reads it
(:func:`dedup.fingerprint.instance.fingerprint_location`); the harness fails on any exception
and on any result other than an ``Instance`` or a ``Quarantined``. Half of the mutations are
libFuzzer's, half DICOM-aware (length fields, VRs, truncation: :mod:`fuzz.mutations`).

Run it through ``make fuzz`` (bounded time), or by hand::

    python fuzz/fuzz_read.py --seeds .fuzz/seeds            # write the seed corpus
    python fuzz/fuzz_read.py .fuzz/corpus .fuzz/seeds -max_total_time=600 \
        -artifact_prefix=.fuzz/crashes/ -rss_limit_mb=4096 -timeout=20

A crash leaves ``.fuzz/crashes/crash-<sha1>``; reproduce it with
``python fuzz/fuzz_read.py .fuzz/crashes/crash-<sha1>`` and turn it into a regression test
in ``tests/ingest/test_fuzz_read.py`` (as a seed plus byte patches, not a committed binary).

With ``DEDUP_FUZZ_KEEP_GOING=1`` (what ``make fuzz`` sets) a crash does not stop the run:
the first input of each distinct crash (exception type and raising line) is saved as
``<DEDUP_FUZZ_CRASHES>/<type>-<file>-<line>.dcm`` and counted in ``summary.json`` there, so
one bounded run reports every kind of crash it meets, not only the first.
"""

from __future__ import annotations

import json
import os
import random
import sys
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris

with atheris.instrument_imports(include=["dedup"]):
    from fuzz.mutations import Reader, apply_ops, random_ops, seeds

_reader: Reader | None = None
_KEEP_GOING = os.environ.get("DEDUP_FUZZ_KEEP_GOING") == "1"
_CRASHES = Path(os.environ.get("DEDUP_FUZZ_CRASHES", ".fuzz/crashes"))
_found: dict[str, int] = {}


def test_one_input(data: bytes) -> None:
    """Read one input; any exception is a finding."""
    global _reader
    if _reader is None:
        _reader = Reader()
    try:
        _reader.read(data)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # Rust panics in decoders are BaseExceptions
        if not _KEEP_GOING:
            raise
        _record(exc, data)


def _record(exc: BaseException, data: bytes) -> None:
    """Save the first input of each distinct crash and keep counts in summary.json."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    key = f"{type(exc).__name__}-{Path(frame.filename).stem}-{frame.lineno}"
    if key not in _found:
        _CRASHES.mkdir(parents=True, exist_ok=True)
        (_CRASHES / f"{key}.dcm").write_bytes(data)
        print(f"NEW CRASH {key}: {str(exc)[:200]}", file=sys.stderr, flush=True)
    _found[key] = _found.get(key, 0) + 1
    (_CRASHES / "summary.json").write_text(json.dumps(_found, indent=1, sort_keys=True))


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    """Half libFuzzer's byte mutations, half DICOM-aware operations."""
    rng = random.Random(seed)
    if rng.random() < 0.5:
        return atheris.Mutate(data, max_size)
    return apply_ops(data, random_ops(rng))[:max_size]


def write_seeds(folder: Path) -> None:
    """Write the seed corpus (pydicom's small shipped files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (folder / name).write_bytes(data)


def main() -> None:
    """Write seeds (``--seeds DIR``) or run libFuzzer with the remaining arguments."""
    if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
        write_seeds(Path(sys.argv[2]))
        return
    warnings.simplefilter("ignore")  # pydicom warns about every odd value
    atheris.Setup(sys.argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
