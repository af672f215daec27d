"""The pre-order check's in-memory index of the published archive, rebuilt per generation.

A check must answer in about a millisecond while the nightly batch writes, so it never queries
the archive per request. :func:`build_index` reads the published snapshot once (three named
queries) into columnar arrays:

* patient records sorted by birth date (the blocking key of the linkage model), with names,
  sex, issuer and ID, so the candidates for a question are one binary search away;
* linked record pairs (the linkage model's decisions) as adjacency lists;
* studies of a known procedure family sorted by patient, family and date, with the details a
  prior shows (UID, institution, where the images are) in an Arrow table.

:class:`IndexHolder` keeps the current index and swaps in a new one, built in the background,
when the batch publishes a new generation: readers never wait for the writer and never see a
half-built index.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dedup.archive.db import Archive
from dedup.archive.publish import PublishedReader, published_path
from dedup.check_link import Person, decide
from dedup.errors import ArchiveError
from dedup.match.linkage import NameParts, normalise_name

log = logging.getLogger("dedup.check")
#: Names recur (common names, the same patient checked at order-select and order-sign), so
#: normalised names are cached by their raw text.
@lru_cache(maxsize=1 << 16)
def _normalised(name: str) -> tuple[NameParts, frozenset[str]]:
    parts = normalise_name(name)
    return parts, frozenset(parts.words)
_DETAILS = ("study_uid", "institution", "description", "modalities", "n_instances", "location")


@dataclass(frozen=True, slots=True)
class Query:
    """The patient asked about, normalised for matching."""

    person: Person
    birth_day: int  # days since 1970-01-01
    patient_id: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """A patient record taken to be the person asked about, with the evidence."""

    row: int
    probability: float
    reasons: tuple[str, ...]


class PriorIndex:
    """Columnar, read-only lookup structures over one published generation.

    Args:
        patients: ``check_patients.sql`` rows, in blocking order.
        studies: ``check_studies.sql`` rows (any order).
        links: ``check_links.sql`` rows.
        generation: the snapshot's name, reported with each answer.

    """

    def __init__(self, patients: pl.DataFrame, studies: pl.DataFrame, links: pl.DataFrame,
                 generation: str) -> None:
        self.generation = generation
        self.built_at = time.time()
        self.patients = patients.height
        self.studies = studies.height
        self._birth = patients["birth_day"].to_numpy()
        self._sex = patients["sex"].to_numpy()
        self._names, self._issuers, self._ids = (
            patients[c].rechunk().to_arrow() for c in ("name", "issuer", "patient_id"))
        rows = _row_lookup(patients["patient_key"].to_numpy())
        self._init_studies(studies, rows(studies["patient_key"].to_numpy()))
        self._init_links(links, rows(links["patient_key_a"].to_numpy()),
                         rows(links["patient_key_b"].to_numpy()))
        if self.patients:  # the first Arrow scalar read is slow: take it here, not in a check
            self.priors([Match(0, 1.0, ())], next(iter(self._family_codes), ""), 0, 1 << 20)

    def _init_studies(self, studies: pl.DataFrame, prow: np.ndarray) -> None:
        families = sorted(studies["family"].unique().to_list())
        self._family_codes = {family: code for code, family in enumerate(families)}
        family = studies["family"].replace_strict(self._family_codes,
                                                  return_dtype=pl.Int32).to_numpy()
        day = studies["study_day"].to_numpy()
        # one int64 sort key: patient row, family, date (offset to be non-negative)
        key = (prow.astype(np.int64) << 32) | (family.astype(np.int64) << 24) \
            | (day.astype(np.int64) + (1 << 23))
        order = np.argsort(key)
        self._s_family, self._s_day = family[order], day[order]
        self._s_row = order  # position in the detail columns, which keep the query's order
        self._s_ptr = np.searchsorted(prow[order], np.arange(self.patients + 1))
        self._details = [studies[name].rechunk().to_arrow() for name in _DETAILS]

    def _init_links(self, links: pl.DataFrame, a: np.ndarray, b: np.ndarray) -> None:
        texts = links["reasons"].unique().to_list()
        self._reasons = [tuple(json.loads(t)) for t in texts]
        codes = links["reasons"].replace_strict({t: i for i, t in enumerate(texts)},
                                                return_dtype=pl.Int32).to_numpy()
        src, dst = np.concatenate([a, b]), np.concatenate([b, a])
        order = np.argsort(src, kind="stable")
        self._l_ptr = np.searchsorted(src[order], np.arange(self.patients + 1))
        self._l_dst = dst[order]
        self._l_prob = np.concatenate([links["match_probability"].to_numpy()] * 2)[order]
        self._l_reason = np.concatenate([codes, codes])[order]

    def has_family(self, family: str) -> bool:
        """Whether any indexed study has this family."""
        return family in self._family_codes

    def people(self, query: Query, *, prior: float, threshold: float) -> list[Match]:
        """Records of the person asked about: direct matches, then their linked records.

        A record matches directly when the linkage model links it to the question, or when
        it is the same registration (same issuer and ID) with the same birth date and no
        conflicting sex. Records linked in the archive to a direct match (one hop) count
        too, with the product of both probabilities. Nothing else does.
        """
        bounds = np.array([query.birth_day, query.birth_day + 1], dtype=self._birth.dtype)
        lo, hi = (int(i) for i in self._birth.searchsorted(bounds))
        if lo == hi:
            return []
        direct: dict[int, Match] = {}
        names = self._names.slice(lo, hi - lo).to_pylist()
        issuers = self._issuers.slice(lo, hi - lo).to_pylist()
        ids = self._ids.slice(lo, hi - lo).to_pylist()
        for offset, sex in enumerate(self._sex[lo:hi].tolist()):
            if query.person.sex and sex and sex != query.person.sex:
                continue  # vetoed whatever the names say
            if query.patient_id and ids[offset] == query.patient_id \
                    and issuers[offset] == query.person.issuer:
                direct[lo + offset] = Match(lo + offset, 1.0, (
                    "same issuer and patient ID", "birth date equal",
                    "sex equal" if sex and query.person.sex else "sex unknown"))
                continue
            parts, words = _normalised(names[offset] or "")
            record = Person(parts, sex, issuers[offset] or "", words)
            decision = decide(query.person, record, prior=prior, threshold=threshold)
            if decision.linked:
                direct[lo + offset] = Match(lo + offset, decision.probability, decision.reasons)
        return self._with_linked(direct)

    def _with_linked(self, direct: dict[int, Match]) -> list[Match]:
        found = dict(direct)
        for row, match in direct.items():
            for k in range(int(self._l_ptr[row]), int(self._l_ptr[row + 1])):
                other = int(self._l_dst[k])
                if other not in found:
                    found[other] = Match(other, match.probability * float(self._l_prob[k]),
                                         ("linked in the archive to a matching record",
                                          *self._reasons[int(self._l_reason[k])]))
        return sorted(found.values(), key=lambda m: m.row)

    def priors(self, matches: list[Match], family: str, day: int, window: int
               ) -> list[dict[str, Any]]:
        """Studies of the matched records in ``family`` within ``window`` days of ``day``.

        Returns:
            One dict per study: the detail columns plus ``study_day`` and the match's
            ``probability`` and ``reasons``, most recent first.

        """
        code = self._family_codes.get(family)
        if code is None or not matches:
            return []
        picked: list[int] = []
        owners: list[Match] = []
        for match in matches:
            a, b = int(self._s_ptr[match.row]), int(self._s_ptr[match.row + 1])
            if a == b:
                continue
            hits = np.flatnonzero((self._s_family[a:b] == code)
                                  & (np.abs(self._s_day[a:b] - day) <= window))
            picked += (hits + a).tolist()
            owners += [match] * len(hits)
        if not picked:
            return []
        rows = []
        for index, match in zip(picked, owners, strict=True):
            at = int(self._s_row[index])
            row = {name: column[at].as_py() for name, column in zip(
                _DETAILS, self._details, strict=True)}
            row.update(study_day=int(self._s_day[index]), probability=match.probability,
                       reasons=match.reasons)
            rows.append(row)
        return sorted(rows, key=lambda r: (-r["study_day"], r["study_uid"]))


def _row_lookup(keys: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping patient keys to their rows (keys are unique; all looked-up exist)."""
    if keys.size and keys.min() >= 0 and keys.max() <= 4 * keys.size + 1024:
        table = np.full(int(keys.max()) + 1, -1, dtype=np.int64)
        table[keys] = np.arange(keys.size)
        return lambda wanted: table[wanted]
    by_key = np.argsort(keys)
    return lambda wanted: by_key[np.searchsorted(keys, wanted, sorter=by_key)]


def build_index(archive: Archive, birth_date: date | None = None,
                threads: int | None = None) -> PriorIndex:
    """Read a (published, read-only) archive into a :class:`PriorIndex`.

    Args:
        archive: the snapshot to read.
        birth_date: keep only patients born that day (a one-off check needs no more);
            ``None`` keeps everyone.
        threads: DuckDB threads for the queries (a server rebuilding in the background uses
            one, leaving the other cores to the requests); ``None``: DuckDB's default.

    """
    params = {"birth": birth_date}
    archive.execute("SET enable_progress_bar = false")
    if threads:
        archive.execute(f"SET threads = {int(threads)}")
    patients = archive.run("check_patients", params)
    studies = archive.run("check_studies", params)
    links = archive.run("check_links", params)
    return PriorIndex(patients, studies, links, Path(archive.path).name)


class IndexHolder:
    """The current :class:`PriorIndex` of an archive's published snapshot.

    :meth:`current` builds the first index on demand; :meth:`start` runs a thread that
    polls the published link every ``reload_seconds`` and swaps in a new index when the batch
    has published a new generation. Requests keep using the previous index meanwhile.
    """

    def __init__(self, archive_path: str | Path, reload_seconds: float = 1.0) -> None:
        self.archive_path = str(archive_path)
        self.reload_seconds = reload_seconds
        self._link = published_path(archive_path)
        self._reader = PublishedReader(archive_path)
        self._index: PriorIndex | None = None
        self._target = ""
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> PriorIndex:
        """The index in use (built now if there is none yet).

        Raises:
            ArchiveError: nothing has been published yet, or (with the background thread
                running) the first index is still being built.

        """
        index = self._index
        if index is None:
            if self._thread is not None:  # a server never builds inside a request
                raise ArchiveError("the check index is not ready yet (nothing published, or "
                                   "the first build is running); retry shortly")
            self.refresh()
            index = self._index
            assert index is not None
        return index

    def refresh(self) -> bool:
        """Build and swap in the index of the newest generation if it changed.

        Returns:
            Whether a new index was swapped in.

        Raises:
            ArchiveError: nothing has been published yet.

        """
        with self._build_lock:
            target = os.path.realpath(self._link)
            if target == self._target and self._index is not None:
                return False
            started = time.monotonic()
            archive = self._reader.archive()
            index = build_index(archive, threads=1 if self._thread else None)
            self._index, self._target = index, os.path.realpath(archive.path)
            self._reader.close()  # the index holds everything; release the snapshot
            # Long-lived objects (the index, caches) leave the collector's view: a full
            # collection over them would stall every request for tens of milliseconds.
            gc.freeze()
        log.info("check index: generation %s, %d patients, %d studies, built in %.1f s",
                 index.generation, index.patients, index.studies, time.monotonic() - started)
        return True

    def start(self) -> None:
        """Start the background thread that picks up new generations."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="dedup-index", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _poll(self) -> None:
        # Not niced: a low-priority thread holding the GIL would stall the requests' thread.
        while not self._stop.wait(self.reload_seconds):
            try:
                self.refresh()
            except ArchiveError as exc:
                log.warning("check index not refreshed: %s", exc)
            except Exception:  # keep serving the previous generation whatever happens
                log.exception("check index refresh failed; serving the previous generation")


def day_number(value: date) -> int:
    """Days since 1970-01-01 (the index's date unit)."""
    return (value - date(1970, 1, 1)).days

