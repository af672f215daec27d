"""Matching accuracy on labelled corpora: precision, recall, F1 per kind, confusion matrix.

Each corpus is ``dedup.synth.make_corpus`` (duplicates of every kind made by pydicom plus
look-alike negatives) and, on top, duplicates made with third-party tools:

* exact: DCMTK ``dcmcrle`` re-encodes a whole study as RLE, same UIDs (a transcoded re-send);
* same-content: ``dicognito`` (PyPI) re-identifies with new UIDs, then GDCM ``gdcmconv --j2k``
  (lossless JPEG 2000) or DCMTK ``dcmcjpeg +e1`` (lossless JPEG) transcodes;
* partial: ``dicognito`` on a subset of the series;
* near: ``dicognito`` keeping acquisition times, then ``gdcmconv --j2k --lossy -q 80``.

Usage: ``python benchmarks/eval_matching.py --out /tmp/eval --seeds 4``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import duckdb
from pydicom import dcmread

from dedup.config import Settings
from dedup.index import index
from dedup.synth import Label, make_corpus

KINDS = ("exact", "same-content", "partial", "near", "repeat")
RANK = {k: i for i, k in enumerate(KINDS)}
LABELS = (*KINDS, "negative")


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def studies_by_modality(archive_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    out: dict[str, list[tuple[str, Path]]] = {}
    for folder in sorted(p for p in archive_dir.iterdir() if p.is_dir()):
        ds = dcmread(next(folder.rglob("*.dcm")), stop_before_pixels=True)
        family = {"CR": "XR", "DX": "XR"}.get(ds.Modality, ds.Modality)
        out.setdefault(family, []).append((ds.StudyInstanceUID, folder))
    return out


def anonymise(src: Path, dest: Path, seed: str, keep: tuple[str, ...] = ()) -> str:
    """dicognito with new UIDs (consistent within the call); returns the new study UID."""
    args = [sys.executable, "-m", "dicognito", "--quiet", "--seed", seed, "-o", str(dest)]
    for element in keep:
        args += ["--keep", element]
    run(*args, str(src))
    return str(dcmread(next(dest.rglob("*.dcm")), stop_before_pixels=True).StudyInstanceUID)


def transcode(src: Path, dest: Path, tool: list[str]) -> None:
    for path in sorted(src.rglob("*.dcm")):
        out = dest / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        run(*tool, str(path), str(out))


def third_party(archive_dir: Path, incoming: Path, seed: int) -> list[Label]:
    """Duplicates made by DCMTK, GDCM and dicognito (see the module docstring)."""
    pool = studies_by_modality(archive_dir)
    labels = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        uid, folder = pool["CT"][-1]
        transcode(folder, incoming / f"tp-exact-{seed}", ["dcmcrle"])
        labels.append(Label(uid, "exact", uid, "DCMTK dcmcrle re-send, same UIDs"))
        for n, (family, tool, name) in enumerate((
                ("MR", ["gdcmconv", "--j2k"], "GDCM j2k lossless"),
                ("CT", ["dcmcjpeg", "+e1"], "DCMTK jpeg lossless"))):
            uid, folder = pool[family][-1 - n % len(pool[family])]
            new = anonymise(folder, work / f"sc{n}", f"sc{seed}{n}")
            transcode(work / f"sc{n}", incoming / f"tp-sc{n}-{seed}", tool)
            labels.append(Label(new, "same-content", uid, f"dicognito + {name}"))
        uid, folder = pool["MR"][0]
        (work / "sub").mkdir()
        for series in ("1", "2"):
            shutil.copytree(folder / series, work / "sub" / series)
        new = anonymise(work / "sub", incoming / f"tp-partial-{seed}", f"p{seed}")
        labels.append(Label(new, "partial", uid, "dicognito on 2 of 3 series"))
        uid, folder = pool["MR"][-1]
        new = anonymise(folder, work / "near", f"n{seed}",
                        ("AcquisitionTime", "ContentTime", "StationName"))
        transcode(work / "near", incoming / f"tp-near-{seed}",
                  ["gdcmconv", "--j2k", "--lossy", "-q", "80"])
        labels.append(Label(new, "near", uid, "dicognito + GDCM j2k lossy q80"))
    return labels


def predictions(archive: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(archive), read_only=True) as con:
        return con.execute("SELECT study_uid, duplicate_of_study_uid, kind "
                           "FROM duplicates").fetchall()


def judge(labels: list[Label], rows: list[tuple[str, str, str]], archived: set[str]
          ) -> tuple[list[tuple[str, str]], int]:
    """(label kind, predicted kind) per labelled study; count of archive-only false flags."""
    pairs = {frozenset((a, b)): kind for a, b, kind in rows}
    out = []
    for label in labels:
        if label.duplicate_of and frozenset((label.study_uid, label.duplicate_of)) in pairs:
            out.append((label.kind, pairs[frozenset((label.study_uid, label.duplicate_of))]))
            continue
        others = [kind for a, b, kind in rows if label.study_uid in (a, b) and a != b
                  and (label.kind == "negative" or ({a, b} - {label.study_uid}) <= archived)]
        out.append((label.kind, min(others, key=RANK.__getitem__) if others else "none"))
    flags = sum(1 for a, b, _ in rows if a != b and a in archived and b in archived)
    return out, flags


def one_corpus(out: Path, seed: int, patients: int, ct_slices: int
               ) -> tuple[list[tuple[str, str]], int]:
    corpus = make_corpus(out / f"corpus{seed}", patients=patients, seed=seed, ct_slices=ct_slices)
    labels = list(corpus.labels) + third_party(corpus.archive_dir, corpus.incoming_dir, seed)
    archive = out / f"archive{seed}.duckdb"
    archive.unlink(missing_ok=True)
    settings = Settings(archive=str(archive), workers=2, publish=False)
    index([corpus.archive_dir], settings)
    with duckdb.connect(str(archive), read_only=True) as con:
        archived = {r[0] for r in con.execute("SELECT study_uid FROM studies").fetchall()}
    index([corpus.incoming_dir], settings)
    return judge(labels, predictions(archive), archived)


def report(results: list[tuple[str, str]], flags: int) -> str:
    confusion = Counter(results)
    lines = ["| kind | labelled | precision | recall | F1 |", "| --- | ---: | ---: | ---: | ---: |"]
    for kind in KINDS:
        tp = confusion[(kind, kind)]
        predicted = sum(n for (_, p), n in confusion.items() if p == kind)
        labelled = sum(n for (t, _), n in confusion.items() if t == kind)
        p = tp / predicted if predicted else 1.0
        r = tp / labelled if labelled else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        lines.append(f"| {kind} | {labelled} | {p:.3f} | {r:.3f} | {f1:.3f} |")
    columns = (*KINDS, "none")
    lines += ["", "Confusion matrix (rows: truth, columns: predicted):", "",
              "| truth \\ predicted | " + " | ".join(columns) + " |",
              "| --- |" + " ---: |" * len(columns)]
    for truth in LABELS:
        lines.append(f"| {truth} | " + " | ".join(str(confusion[(truth, p)]) for p in columns)
                     + " |")
    false_repeats = confusion[("negative", "repeat")]
    lines += ["", f"False `repeat` flags on negatives: {false_repeats}; false flags between "
              f"archived studies: {flags}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("eval-out"))
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--ct-slices", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    results: list[tuple[str, str]] = []
    flags = 0
    for seed in range(args.seeds):
        found, n = one_corpus(args.out, seed, args.patients, args.ct_slices)
        results += found
        flags += n
        print(f"corpus {seed}: {len(found)} labelled studies", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results))
    print(report(results, flags))


if __name__ == "__main__":
    main()
