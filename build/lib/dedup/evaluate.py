"""Matching accuracy: labelled corpora, and a population with no duplicates at all.

Each labelled corpus is :func:`dedup.synth.make_corpus` (duplicates of every kind made by
pydicom plus look-alike negatives) and, on top, duplicates made with third-party tools (DCMTK,
GDCM, dicognito, deid and a real Orthanc; see :mod:`dedup.synth.copies`), among them lossy
copies that were re-identified with their dates and times shifted, which only pixel evidence
can find, copies inside one archived study (new SOP Instance UIDs under its Study UID, or a
lossy version under the same SOP Instance UIDs), and real images that pydicom ships, added
to the archive with copies of them. Precision and recall come with Wilson 95% intervals.

The population (:func:`dedup.synth.population.make_population`) holds many patients scanned
on a handful of devices with identical protocols, priors, same-day repeats, twins and
namesakes, and no duplicate: every flag other than ``repeat`` there is a false positive.

The library part of ``dedup eval`` and ``benchmarks/eval_matching.py``. It reads the
archives it builds through :class:`dedup.archive.db.Archive`, read-only.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dedup.archive.db import Archive
from dedup.batch.pipeline import index
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.synth import Label, make_corpus
from dedup.synth.copies import missing_tools, skipped_copies, third_party
from dedup.synth.population import make_population

KINDS = ("exact", "same-content", "partial", "near", "repeat")
LABELS = (*KINDS, "negative")
COLUMNS = (*KINDS, "none")
_RANK = {k: i for i, k in enumerate(KINDS)}

#: Least precision (every kind) and recall (per kind) the issue asks for.
PRECISION_TARGET = 0.99
RECALL_TARGETS = {"exact": 0.98, "same-content": 0.98, "partial": 0.98, "near": 0.95,
                  "repeat": 0.95}


def predictions(archive: Path) -> list[tuple[str, str, str]]:
    """Every ``(study_uid, duplicate_of_study_uid, kind)`` row of an archive."""
    with Archive.open(archive, read_only=True) as db:
        return list(db.run("duplicate_pairs").iter_rows())


def judge(labels: Iterable[Label], rows: list[tuple[str, str, str]], archived: set[str]
          ) -> tuple[list[tuple[str, str]], int]:
    """(label kind, predicted kind) per labelled study; count of archive-only false flags.

    A pair may be flagged several times with different kinds (a study re-sent whole is
    ``exact`` with itself, and new instances arriving under its Study UID are
    ``same-content`` or ``near`` with it). A labelled duplicate counts as found when its
    kind is among those flagged for its pair; when its pair is flagged with other kinds only,
    the strongest of them is its prediction; when its pair is not flagged, the strongest
    kind flagged between it and an archived study (``none`` if there is none; always
    ``none`` for a duplicate inside one study, whose only archived partner is itself). For a
    negative, any flag naming it counts.

    The false flags are rows between two archived studies, and rows of an archived study
    with itself that no label claims.
    """
    kinds: dict[frozenset[str], set[str]] = {}
    for a, b, kind in rows:
        kinds.setdefault(frozenset((a, b)), set()).add(kind)
    labels = list(labels)
    out = [(label.kind, _predicted(label, kinds, rows, archived)) for label in labels]
    claimed = {label.study_uid for label in labels if label.study_uid == label.duplicate_of}
    flags = sum(1 for a, b, _ in rows if a in archived and b in archived
                and (a != b or a not in claimed))
    return out, flags


def _predicted(label: Label, kinds: dict[frozenset[str], set[str]],
               rows: list[tuple[str, str, str]], archived: set[str]) -> str:
    uid = label.study_uid
    if label.duplicate_of is not None:
        flagged = kinds.get(frozenset((uid, label.duplicate_of)), set())
        if label.kind in flagged:
            return label.kind
        if flagged or uid == label.duplicate_of:
            return _strongest(flagged)
        others = [kind for a, b, kind in rows
                  if uid in (a, b) and a != b and ({a, b} - {uid}) <= archived]
        return _strongest(others)
    return _strongest(kind for a, b, kind in rows if uid in (a, b))


def _strongest(kinds: Iterable[str]) -> str:
    return min(kinds, key=_RANK.__getitem__, default="none")


@dataclass(frozen=True, slots=True)
class CorpusResult:
    """What one labelled corpus gave."""

    seed: int
    results: list[tuple[str, str]]
    archive_flags: int
    labels: list[Label] = field(default_factory=list)  # one per result, in order

    def outcomes(self) -> list[dict[str, str | int]]:
        """Per labelled study: seed, kind, prediction and how the copy was made."""
        return [{"seed": self.seed, "kind": kind, "predicted": predicted, "note": label.note}
                for (kind, predicted), label in zip(self.results, self.labels, strict=True)]


def one_corpus(out: Path, seed: int, *, patients: int = 6, ct_slices: int = 4,
               tools: bool = True, settings: Settings | None = None) -> CorpusResult:
    """Build, index and judge one labelled corpus under ``out``."""
    shutil.rmtree(out / f"corpus{seed}", ignore_errors=True)  # a rerun starts afresh
    corpus = make_corpus(out / f"corpus{seed}", patients=patients, seed=seed,
                         ct_slices=ct_slices)
    labels: list[Label] = list(corpus.labels)
    if tools:
        labels += third_party(corpus.archive_dir, corpus.incoming_dir, seed, labels)
    archive = out / f"archive{seed}.duckdb"
    archive.unlink(missing_ok=True)
    base = settings or Settings(workers=2)
    run_settings = replace(base, archive=str(archive), publish=False)
    index([corpus.archive_dir], run_settings)
    with Archive.open(archive, read_only=True) as db:
        archived = set(db.run("study_uids")["study_uid"].to_list())
    index([corpus.incoming_dir], run_settings)
    rows = predictions(archive)
    results, flags = judge(labels, rows, archived)
    return CorpusResult(seed, results, flags, labels)


@dataclass(frozen=True, slots=True)
class PopulationResult:
    """What the population without duplicates gave: every flag but ``repeat`` is false."""

    studies: int
    patients: int
    flags: dict[str, int]

    @property
    def false_flags(self) -> int:
        """Duplicate rows of any kind but ``repeat`` (the population has no duplicate)."""
        return sum(n for kind, n in self.flags.items() if kind != "repeat")


def population(out: Path, *, studies: int, patients: int, slices: int = 2,
               settings: Settings | None = None) -> PopulationResult:
    """Write, index (in two nightly runs) and judge a population without duplicates."""
    shutil.rmtree(out / "population", ignore_errors=True)
    made = make_population(out / "population", patients=patients, studies=studies,
                           slices=slices)
    archive = out / "population.duckdb"
    archive.unlink(missing_ok=True)
    run_settings = replace(settings or Settings(workers=2), archive=str(archive),
                           publish=False)
    folders = sorted(p for p in made.root.iterdir() if p.is_dir())
    cut = len(folders) * 2 // 3  # the archive, then what arrives later
    index(folders[:cut], run_settings)
    index(folders[cut:], run_settings)
    kinds = Counter(kind for _, _, kind in predictions(archive))
    return PopulationResult(made.studies, made.patients, dict(sorted(kinds.items())))


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for the default ``z``)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) \
        / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(slots=True)
class Evaluation:
    """Judged results over all corpora, with the derived figures."""

    seeds: int
    patients: int
    ct_slices: int
    third_party: bool
    results: list[tuple[str, str]] = field(default_factory=list)
    archive_flags: int = 0
    skipped: list[str] = field(default_factory=list)
    outcomes: list[dict[str, str | int]] = field(default_factory=list)
    population: PopulationResult | None = None
    seconds: float = 0.0

    def confusion(self) -> dict[str, dict[str, int]]:
        """Counts by truth (rows) and prediction (columns)."""
        counts = Counter(self.results)
        return {truth: {p: counts[(truth, p)] for p in COLUMNS} for truth in LABELS}

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per kind: labelled, predicted, true positives, precision, recall, F1."""
        counts = Counter(self.results)
        out: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            tp = counts[(kind, kind)]
            predicted = sum(n for (_, p), n in counts.items() if p == kind)
            labelled = sum(n for (t, _), n in counts.items() if t == kind)
            p = tp / predicted if predicted else 1.0
            r = tp / labelled if labelled else 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            p_ci, r_ci = wilson(tp, predicted), wilson(tp, labelled)
            out[kind] = {"labelled": labelled, "predicted": predicted, "true_positives": tp,
                         "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
                         "precision_ci95": [round(v, 3) for v in p_ci],
                         "recall_ci95": [round(v, 3) for v in r_ci]}
        return out

    @property
    def false_repeats(self) -> int:
        """Negatives flagged as ``repeat``."""
        return Counter(self.results)[("negative", "repeat")]

    def missed_targets(self) -> list[str]:
        """Each target of the issue that these results miss (empty: all met)."""
        missed = []
        for kind, m in self.metrics().items():
            if m["precision"] < PRECISION_TARGET:
                missed.append(f"{kind} precision {m['precision']:.3f} < {PRECISION_TARGET}")
            if m["recall"] < RECALL_TARGETS[kind]:
                missed.append(f"{kind} recall {m['recall']:.3f} < {RECALL_TARGETS[kind]}")
        if self.false_repeats:
            missed.append(f"{self.false_repeats} false repeat flags on negatives")
        if self.archive_flags:
            missed.append(f"{self.archive_flags} false flags between archived studies")
        if self.population is not None and self.population.false_flags:
            missed.append(f"{self.population.false_flags} false flags in the population "
                          "without duplicates")
        return missed

    def as_dict(self) -> dict[str, object]:
        """The stable JSON form of ``dedup eval --format json``."""
        people = self.population
        return {
            "seeds": self.seeds, "patients": self.patients, "ct_slices": self.ct_slices,
            "third_party": self.third_party, "labelled": len(self.results),
            "kinds": self.metrics(), "confusion": self.confusion(),
            "false_repeats": self.false_repeats, "archive_false_flags": self.archive_flags,
            "population": None if people is None else {
                "studies": people.studies, "patients": people.patients, "flags": people.flags,
                "false_flags": people.false_flags},
            "missed_targets": self.missed_targets(), "skipped_copies": self.skipped,
            "labels": self.outcomes, "seconds": round(self.seconds, 1),
        }

    def markdown(self) -> str:
        """The README tables: metrics per kind with intervals, confusion matrix, false flags."""
        lines = ["| kind | labelled | precision (95% CI) | recall (95% CI) | F1 |",
                 "| --- | ---: | ---: | ---: | ---: |"]
        for kind, m in self.metrics().items():
            p_lo, p_hi = m["precision_ci95"]
            r_lo, r_hi = m["recall_ci95"]
            lines.append(f"| {kind} | {m['labelled']} | {m['precision']:.3f} ({p_lo:.3f}-"
                         f"{p_hi:.3f}) | {m['recall']:.3f} ({r_lo:.3f}-{r_hi:.3f}) | "
                         f"{m['f1']:.3f} |")
        lines += ["", "Confusion matrix (rows: truth, columns: predicted):", "",
                  "| truth \\ predicted | " + " | ".join(COLUMNS) + " |",
                  "| --- |" + " ---: |" * len(COLUMNS)]
        for truth, row in self.confusion().items():
            lines.append(f"| {truth} | " + " | ".join(str(n) for n in row.values()) + " |")
        lines += ["", f"False `repeat` flags on negatives: {self.false_repeats}; false flags "
                  f"between archived studies: {self.archive_flags}."]
        lines += [f"Copies skipped: {note}." for note in self.skipped]
        if self.population is not None:
            people = self.population
            flags = ", ".join(f"{n} {kind}" for kind, n in people.flags.items()) or "none"
            lines.append(f"Population without duplicates ({people.studies} studies of "
                         f"{people.patients} patients): false flags {people.false_flags} "
                         f"(all rows: {flags}).")
        return "\n".join(lines)


def evaluate(out: Path | None = None, *, seeds: int = 4, patients: int = 6, ct_slices: int = 4,
             tools: bool = True, population_studies: int = 0, population_patients: int = 300,
             settings: Settings | None = None,
             progress: Callable[[str], None] | None = None) -> Evaluation:
    """Build ``seeds`` labelled corpora, index and match each, and judge the result.

    Args:
        out: folder for the corpora and archives (kept); a temporary one if ``None``.
        seeds: corpora, seeds 0 .. seeds - 1.
        patients: archived patients per corpus.
        ct_slices: slices per CT series (MR series get as many).
        tools: add the duplicates made by third-party tools (Orthanc and deid are skipped
            with a note in :attr:`Evaluation.skipped` when missing).
        population_studies: studies of the population without duplicates (0: none).
        population_patients: the people in it.
        settings: thresholds to evaluate (the archive path is set per corpus).
        progress: called with one line per corpus done.

    Raises:
        UsageError: a bad count, or ``tools`` and a third-party tool is missing.

    """
    if seeds < 1 or patients < 1 or ct_slices < 1:
        raise UsageError("--seeds, --patients and --ct-slices must be at least 1")
    if tools and (missing := missing_tools()):
        raise UsageError("the evaluation makes duplicates with third-party tools; missing: "
                         + ", ".join(missing) + " (install DCMTK and GDCM with `make "
                         "system-deps`, dicognito with `pip install -e '.[eval]'`), or pass "
                         "--no-third-party")
    started = time.monotonic()
    result = Evaluation(seeds, patients, ct_slices, tools,
                        skipped=skipped_copies() if tools else [])
    if progress is not None:
        for note in result.skipped:
            progress(f"skipped: {note}")
    with tempfile.TemporaryDirectory(prefix="dedup-eval-") as tmp:
        root = Path(out) if out is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for seed in range(seeds):
            found = one_corpus(root, seed, patients=patients, ct_slices=ct_slices, tools=tools,
                               settings=settings)
            result.results += found.results
            result.archive_flags += found.archive_flags
            result.outcomes += found.outcomes()
            if progress is not None:
                progress(f"corpus {seed}: {len(found.results)} labelled studies")
        if population_studies:
            result.population = population(root, studies=population_studies,
                                           patients=population_patients, settings=settings)
            if progress is not None:
                progress(f"population: {result.population.studies} studies")
    result.seconds = time.monotonic() - started
    return result
