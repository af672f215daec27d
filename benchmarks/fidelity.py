"""Byte-for-byte checks of a speed-up: this tree against another checkout, in one run.

Two checks, each run by both checkouts in their own process (``PYTHONPATH`` set to each):

* ``records``: every field of the Instance that ``fingerprint_location`` makes (the
  acquisition signature, the look key, the pixel hash, the header tokens ...) of a fixed set of
  files: files spread over the bench corpus, every file of pydicom's test data, and lossy
  copies made once by DCMTK and GDCM (JPEG, JPEG-LS near-lossless, JPEG 2000 20:1, half
  size, 8 bits); then ``acquisition`` of generated arrays of many shapes and types (sides
  that 128 does or does not divide, small frames, colour, signed, 8 to 32 bits, several
  frames), and ``copy_partners`` and ``look_alike`` of every signature against every other
  (the verdicts and the correlations they return, to the bit).
* ``archives`` (with ``--archives``): labelled corpora of ``dedup.synth.make_corpus`` with
  third-party copies (what ``dedup eval`` indexes) indexed with ``python -m dedup index`` by
  each checkout, archive first and then incoming, and every table of the two archives
  compared row by row (time stamps and run durations aside), ``duplicate_pairs`` first.

Exits 1 if anything differs. Usage: ``python benchmarks/fidelity.py --baseline /work/main
[--files 600] [--archives] [--seeds 1] [--population 300]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from checkouts import checkout_env, run_under

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dedup-bench"
#: lossy copies made once from pydicom's images and the corpus's (tool, its arguments)
COPIES = {
    "jpeg-q50": ["dcmcjpeg", "+ee", "+q", "50"],
    "jpeg-8bit-q50": ["dcmcjpeg", "+eb", "+be", "+q", "50"],
    "jpeg-ls-near": ["dcmcjpls", "+en", "+md", "2"],
    "j2k-20to1": ["gdcmconv", "--j2k", "--lossy", "-r", "20"],
    "half-size": ["dcmscale", "--scale-x-factor", "0.5", "--scale-y-factor", "0.5"],
}
#: column names whose values differ between two runs of one input (clocks, durations)
VOLATILE = ("started", "finished", "seconds", "_at", "time_ms", "mtime", "elapsed")


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def arrays() -> dict[str, Any]:
    """Generated (frames, rows, cols, samples) arrays: smooth content plus noise, many kinds."""
    import numpy as np

    def image(seed: int, frames: int, rows: int, cols: int, samples: int, dtype: str,
              top: int, bottom: int = 0) -> Any:
        raw = np.random.PCG64(seed).random_raw(frames * rows * cols * samples)
        noise = (raw % 1024).astype(np.float64) / 1024 - 0.5
        y, x = np.mgrid[0:rows, 0:cols]
        smooth = np.sin(x / (cols / 7 + 1)) * np.cos(y / (rows / 5 + 1)) + (x > cols / 3)
        values = smooth[None, :, :, None] * 0.3 + noise.reshape(frames, rows, cols, samples) * 0.2
        scaled = bottom + (values - values.min()) / np.ptp(values) * (top - bottom)
        return np.rint(scaled).astype(dtype)

    kinds: list[tuple[Any, ...]] = [
        (1, 512, 512, 1, "uint16", 4095), (1, 512, 512, 1, "int16", 2000, -1024),
        (1, 512, 512, 1, "uint16", 65535), (1, 256, 256, 1, "uint16", 4095),
        (1, 256, 256, 1, "uint8", 255), (1, 1024, 1024, 1, "uint16", 1023),
        (1, 2000, 1600, 1, "uint16", 16383), (1, 2500, 2048, 1, "uint16", 4095),
        (3, 300, 400, 1, "uint16", 4095), (1, 480, 640, 3, "uint8", 255),
        (1, 512, 512, 3, "uint8", 255), (1, 130, 130, 1, "uint16", 4095),
        (1, 128, 128, 1, "int16", 3000, -3000), (1, 33, 47, 1, "uint16", 4095),
        (1, 100, 1000, 1, "uint8", 255), (1, 1000, 100, 1, "uint16", 255),
        (1, 777, 513, 1, "int16", 32000, -32000), (1, 640, 480, 1, "int32", 100000, -5),
        (1, 600, 600, 1, "uint32", 70000), (1, 257, 255, 1, "int8", 127, -128),
        (1, 384, 384, 1, "uint16", 4095), (1, 64, 64, 3, "uint8", 255),
        (2, 200, 300, 3, "uint8", 255), (1, 3000, 3000, 1, "uint16", 4095),
    ]
    out = {}
    for seed, (frames, rows, cols, samples, dtype, top, *bottom) in enumerate(kinds):
        name = f"{frames}x{rows}x{cols}x{samples} {dtype} {bottom[0] if bottom else 0}..{top}"
        out[name] = image(seed, frames, rows, cols, samples, dtype, top, *bottom)
    out["uniform"] = np.full((1, 256, 256, 1), 7, np.uint16)
    ramp = np.arange(512, dtype=np.uint16)[:, None]
    out["gradient"] = np.broadcast_to(ramp, (1, 512, 512, 1)).copy()
    return out


def files(corpus: Path, count: int) -> list[str]:
    """Spread corpus files, pydicom's test files and the third-party copies (made once)."""
    from pydicom.data import get_testdata_files

    every = sorted(str(p) for p in corpus.rglob("*.dcm"))
    spread = [every[n * len(every) // count] for n in range(min(count, len(every)))]
    copies = _copies(spread[:: max(1, len(spread) // 12)][:12])
    return spread + sorted(get_testdata_files()) + copies


def _copies(corpus_files: list[str]) -> list[str]:
    """Lossy copies of pydicom's small images and some corpus files, made once and cached."""
    from pydicom.data import get_testdata_file

    out_dir = CACHE / "fidelity-copies"
    done = out_dir / ".complete"
    if not done.exists():
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        sources = [str(get_testdata_file(n)) for n in ("CT_small.dcm", "MR_small.dcm",
                                                        "examples_overlay.dcm")]
        for n, source in enumerate(sources + corpus_files):
            for name, tool in COPIES.items():
                _copy(Path(source), out_dir / f"{n:02d}-{name}.dcm", tool)
        done.touch()
    return sorted(str(p) for p in out_dir.glob("*.dcm"))


def _copy(source: Path, dest: Path, tool: list[str]) -> None:
    args = [*tool, "-i", str(source), "-o", str(dest)] if tool[0] == "gdcmconv" else \
        [*tool, str(source), str(dest)]
    subprocess.run(args, check=False, capture_output=True)  # a tool may refuse an input


def records(paths: list[str]) -> dict[str, str]:
    """name -> digest of what this checkout computes (run inside its own process)."""
    import os as _os
    from dataclasses import fields

    from dedup.config import Settings
    from dedup.fingerprint.detail import acquisition, copy_partners
    from dedup.fingerprint.instance import fingerprint_many
    from dedup.match.run import copy_limits
    from dedup.match.verify import look_alike
    from dedup.records import Instance, Location

    settings, out = Settings(), {}
    detail = [f.name for f in fields(Instance) if f.name != "location"].index("detail")
    signatures: list[bytes] = []
    for path in paths:
        location = Location(path, None, _os.path.getsize(path), _os.path.getmtime(path))
        packed = fingerprint_many([location], settings)[0]
        out[f"file {path}"] = _digest(packed)
        if packed[0] == 0 and packed[2][detail] is not None:
            signatures.append(bytes(packed[2][detail]))  # type: ignore[call-overload]
    for name, pixels in arrays().items():
        for record in (None, (12345).to_bytes(8, "big")):
            for lossy in (0, 1):
                out[f"array {name} {record is not None} {lossy}"] = _digest(
                    acquisition(pixels, record, lossy=lossy))
    limits = copy_limits(settings)
    loose = type(limits)(structure=0.6, noise=0.3, noise_support=0.2, resized=0.4,
                         alignment=0.6)  # every test decides some pairs
    for name, lim in (("", limits), (" loose limits", loose)):
        close, structure = copy_partners(signatures, signatures, lim)
        out[f"copy_partners all x all{name}"] = _digest(
            (close.tobytes(), structure.tobytes(), close.shape, structure.dtype.str))
        out[f"copy partners found{name}"] = str(int(close.sum()))
    for size in (1, 2, 3, 5, 17, 40):
        groups = [signatures[i:i + size] for i in range(0, len(signatures), size)]
        verdicts = [look_alike(a, b, limits) for a in groups[:30] for b in groups[:30]]
        out[f"look_alike groups of {size}"] = _digest(verdicts)
    out["signatures"] = str(len(signatures))
    return out


def _run_records(code: Path, paths_file: Path) -> dict[str, str]:
    result: dict[str, str] = run_under(code, __file__, "--records", str(paths_file), cwd=code)
    return result


def compare(name: str, before: dict[str, str], after: dict[str, str]) -> int:
    """Print what differs; return how many entries do."""
    differ = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    for key in differ[:20]:
        print(f"  DIFFERS {key}: {before.get(key)} -> {after.get(key)}")
    print(f"{name}: {len(before)} entries, {len(differ)} differ")
    if len(after) <= 40:  # an archive: say what was compared
        print("  " + ", ".join(k.removeprefix("table ") for k in sorted(after)))
    return len(differ)


def table_sql(table: str) -> str:
    """Every row of ``table``, in a stable order."""
    return f"SELECT * FROM {table} ORDER BY ALL"


def dump_archive(archive: str) -> dict[str, str]:
    """table -> digest of its rows (volatile columns left out), in this process."""
    from dedup.archive.db import Archive

    out = {}
    with Archive.open(archive, read_only=True) as db:
        out["duplicate_pairs"] = _digest(sorted(db.run("duplicate_pairs").rows()))
        for table in sorted(db.run("metric_tables")["table_name"].to_list()):
            frame = db.query(table_sql(table))
            keep = [c for c in frame.columns if not any(v in c for v in VOLATILE)]
            out[f"table {table} ({frame.height} rows)"] = _digest(
                frame.select(keep).rows())
    return out


def _index(code: Path, runs: list[list[Path]], archive: Path) -> dict[str, str]:
    archive.unlink(missing_ok=True)
    for folders in runs:
        subprocess.run([sys.executable, "-m", "dedup", "index", *map(str, folders),
                        "--archive", str(archive), "--workers", "2"], env=checkout_env(code),
                       check=False, capture_output=True, cwd=code)
    result: dict[str, str] = run_under(code, __file__, "--dump", str(archive), cwd=code)
    return result


def corpora(seeds: int, population: int) -> dict[str, list[list[Path]]]:
    """Corpora made once, each as the runs that index it.

    Labelled corpora with third-party copies (as ``dedup eval`` makes them: the archive,
    then the incoming batch), and a population without duplicates (two thirds of its
    studies, then the rest), whose look-alikes are the hard negatives.
    """
    from dedup.synth import make_corpus
    from dedup.synth.copies import third_party
    from dedup.synth.population import make_population

    out = {}
    for seed in range(1, seeds + 1):
        root = CACHE / f"fidelity-corpus{seed}"
        if not (root / ".complete").exists():
            shutil.rmtree(root, ignore_errors=True)
            corpus = make_corpus(root, patients=6, seed=seed, ct_slices=4)
            third_party(corpus.archive_dir, corpus.incoming_dir, seed, list(corpus.labels))
            (root / ".complete").touch()
        out[root.name] = [[root / "archive"], [root / "incoming"]]
    if population:
        root = CACHE / f"fidelity-population{population}"
        if not (root / ".complete").exists():
            shutil.rmtree(root, ignore_errors=True)
            make_population(root, patients=max(3, min(400, population // 3)),
                            studies=population)
            (root / ".complete").touch()
        folders = sorted(p for p in root.iterdir() if p.is_dir())
        cut = len(folders) * 2 // 3
        out[root.name] = [folders[:cut], folders[cut:]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=Path("/work/main"))
    parser.add_argument("--corpus", type=Path, default=CACHE / "corpus-v3-0.3gb")
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--archives", action="store_true", help="index labelled corpora too")
    parser.add_argument("--no-records", action="store_true", help="the archives only")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--population", type=int, default=300,
                        help="studies of a population without duplicates (0: none)")
    parser.add_argument("--records", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.records:
        print(json.dumps(records(json.loads(Path(args.records).read_text()))))
        return
    if args.dump:
        print(json.dumps(dump_archive(args.dump)))
        return
    differ = 0
    with tempfile.TemporaryDirectory(prefix="dedup-fidelity-") as tmp:
        if not args.no_records:
            paths_file = Path(tmp) / "paths.json"
            paths = files(args.corpus, args.files)
            paths_file.write_text(json.dumps(paths))
            print(f"records of {len(paths)} files and {len(arrays())} arrays")
            differ += compare("records", _run_records(args.baseline, paths_file),
                              _run_records(REPO, paths_file))
        if args.archives:
            for name, runs in corpora(args.seeds, args.population).items():
                before = _index(args.baseline, runs, Path(tmp) / "before.duckdb")
                after = _index(REPO, runs, Path(tmp) / "after.duckdb")
                differ += compare(f"archive of {name}", before, after)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
