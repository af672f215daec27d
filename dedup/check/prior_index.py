"""The pre-order check's in-memory index of the published archive, rebuilt per generation.

A check must answer in about a millisecond while the nightly batch writes, so it never queries
the archive per request. :func:`build_index` reads the published snapshot once (three named
queries) into columnar arrays:

* patient records sorted by birth date (the blocking key of the linkage model), with names,
  sex, issuer and ID, so the candidates for a question are one binary search away;
* linked record pairs (the linkage model's decisions) as adjacency lists;
* studies of a known procedure family sorted by patient, family and date, with the details a
  prior shows (UID, institution, where the images are) in an Arrow table.

:func:`save_index` and :func:`load_index` move an index between processes through memory-mapped
files: :class:`dedup.check.holder.IndexHolder` builds each new generation in a separate, niced
process and maps the result in, so the build never competes with requests for the GIL.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from dedup.archive.db import Archive
from dedup.check.link import Person, decide
from dedup.match.linkage import NameParts, normalise_name

log = logging.getLogger("dedup.check")
_DETAILS = ("study_uid", "institution", "description", "modalities", "n_instances", "location")


@lru_cache(maxsize=1 << 16)
def _normalised(name: str) -> tuple[NameParts, frozenset[str]]:
    """Normalised name and its words (cached: common names recur, and so do patients)."""
    parts = normalise_name(name)
    return parts, frozenset(parts.words)


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


_NUMPY = ("birth", "sex", "s_family", "s_day", "s_row", "s_ptr", "l_ptr", "l_dst", "l_prob",
          "l_reason")
_PATIENT_TEXT = ("name", "issuer", "patient_id")


class PriorIndex:
    """Columnar, read-only lookup structures over one published generation.

    Args:
        arrays: what :func:`index_arrays` computes (or :func:`load_index` maps back in).
        generation: the snapshot's name, reported with each answer.

    """

    def __init__(self, arrays: dict[str, Any], generation: str) -> None:
        self.generation = generation
        self.built_at = time.time()
        self.arrays = arrays
        self._birth, self._sex = arrays["birth"], arrays["sex"]
        self._s_family, self._s_day = arrays["s_family"], arrays["s_day"]
        self._s_row, self._s_ptr = arrays["s_row"], arrays["s_ptr"]
        self._l_ptr, self._l_dst = arrays["l_ptr"], arrays["l_dst"]
        self._l_prob, self._l_reason = arrays["l_prob"], arrays["l_reason"]
        self._names, self._issuers, self._ids = (arrays[c] for c in _PATIENT_TEXT)
        self._details = [arrays[c] for c in _DETAILS]
        self._family_codes = {family: code for code, family in enumerate(arrays["families"])}
        self._reasons = [tuple(r) for r in arrays["reasons"]]
        self.patients = len(self._birth)
        self.studies = len(self._s_day)
        if self.patients:  # the first Arrow scalar read is slow: take it here, not in a check
            self.priors([Match(0, 1.0, ())], next(iter(self._family_codes), ""), 0, 1 << 20)

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


def index_arrays(patients: pl.DataFrame, studies: pl.DataFrame, links: pl.DataFrame
                 ) -> dict[str, Any]:
    """The index's arrays from the rows of the three ``check_*.sql`` queries."""
    out: dict[str, Any] = {"birth": patients["birth_day"].to_numpy(),
                           "sex": patients["sex"].to_numpy()}
    out |= {c: patients[c].rechunk().to_arrow() for c in _PATIENT_TEXT}
    rows = _row_lookup(patients["patient_key"].to_numpy())
    out |= _study_arrays(studies, rows(studies["patient_key"].to_numpy()), patients.height)
    out |= _link_arrays(links, rows(links["patient_key_a"].to_numpy()),
                        rows(links["patient_key_b"].to_numpy()), patients.height)
    return out


def _study_arrays(studies: pl.DataFrame, prow: np.ndarray, patients: int) -> dict[str, Any]:
    families = sorted(studies["family"].unique().to_list())
    family = studies["family"].replace_strict({f: c for c, f in enumerate(families)},
                                              return_dtype=pl.Int32).to_numpy()
    day = studies["study_day"].to_numpy()
    # one int64 sort key: patient row, family, date (offset to be non-negative)
    key = (prow.astype(np.int64) << 32) | (family.astype(np.int64) << 24) \
        | (day.astype(np.int64) + (1 << 23))
    order = np.argsort(key)
    return {"families": families, "s_family": family[order], "s_day": day[order],
            "s_row": order,  # position in the detail columns, which keep the query's order
            "s_ptr": np.searchsorted(prow[order], np.arange(patients + 1))} | {
        name: studies[name].rechunk().to_arrow() for name in _DETAILS}


def _link_arrays(links: pl.DataFrame, a: np.ndarray, b: np.ndarray, patients: int
                 ) -> dict[str, Any]:
    texts = links["reasons"].unique().to_list()
    codes = links["reasons"].replace_strict({t: i for i, t in enumerate(texts)},
                                            return_dtype=pl.Int32).to_numpy()
    src, dst = np.concatenate([a, b]), np.concatenate([b, a])
    order = np.argsort(src, kind="stable")
    return {"reasons": [json.loads(t) for t in texts],
            "l_ptr": np.searchsorted(src[order], np.arange(patients + 1)),
            "l_dst": dst[order],
            "l_prob": np.concatenate([links["match_probability"].to_numpy()] * 2)[order],
            "l_reason": np.concatenate([codes, codes])[order]}


def save_index(index: PriorIndex, folder: str | Path) -> None:
    """Write an index's arrays to ``folder`` (``.npy`` files and Arrow IPC files)."""
    folder = Path(folder)
    for name in _NUMPY:
        np.save(folder / f"{name}.npy", index.arrays[name])
    for table, columns in (("patients", _PATIENT_TEXT), ("details", _DETAILS)):
        data = pa.Table.from_arrays([index.arrays[c] for c in columns], names=list(columns))
        with pa.OSFile(str(folder / f"{table}.arrow"), "wb") as sink, \
                pa.ipc.new_file(sink, data.schema) as writer:
            writer.write_table(data)
    (folder / "meta.json").write_text(json.dumps({
        "generation": index.generation, "families": index.arrays["families"],
        "reasons": index.arrays["reasons"]}))


def _array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def load_index(folder: str | Path) -> PriorIndex:
    """Map an index written by :func:`save_index` back in (no copy: the files are mapped)."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    arrays: dict[str, Any] = {name: np.load(folder / f"{name}.npy", mmap_mode="r")
                              for name in _NUMPY}
    for table in ("patients", "details"):
        data = pa.ipc.open_file(pa.memory_map(str(folder / f"{table}.arrow"))).read_all()
        arrays |= {name: _array(data.column(name)) for name in data.column_names}
    arrays |= {"families": meta["families"], "reasons": meta["reasons"]}
    return PriorIndex(arrays, meta["generation"])


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
    return PriorIndex(index_arrays(patients, studies, links), Path(archive.path).name)


def day_number(value: date) -> int:
    """Days since 1970-01-01 (the index's date unit)."""
    return (value - date(1970, 1, 1)).days

