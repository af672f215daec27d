"""The pre-order check's in-memory index of the published archive, rebuilt per generation.

A check must answer in about a millisecond while the nightly batch writes, so it never queries
the archive per request. :func:`build_index` reads the published snapshot once (three named
queries) into columnar arrays:

* patient records sorted by birth date (the blocking key of the linkage model), with names,
  sex, issuer and ID, so the candidates for a question are one binary search away;
* linked record pairs (the linkage model's decisions) as adjacency lists;
* studies of a procedure family sorted by patient, family and date, with their side and the
  details a prior shows (UID, institution, where the images are) in an Arrow table.

:func:`save_index` and :func:`load_index` move an index between processes through memory-mapped
files: :class:`dedup.check.holder.IndexHolder` builds each new generation in a separate, niced
process and maps the result in, so the build never competes with requests for the GIL.
"""

from __future__ import annotations

import json
import logging
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
import pyarrow as pa
import pyarrow.compute as pc

from dedup.archive.db import Archive, named_sql
from dedup.archive.schema import migrations
from dedup.check.link import Person, decide
from dedup.errors import ArchiveError
from dedup.match.linkage import NameParts, normalise_name

log = logging.getLogger("dedup.check")
_DETAILS = ("study_uid", "institution", "description", "modalities", "n_instances", "location")
#: Laterality letters and their codes in ``study_side`` (0: not known; U: no sides).
SIDE_CODES: dict[str, int] = {"L": 1, "R": 2, "B": 3, "U": 4}
SIDE_LETTERS: dict[int, str] = {code: letter for letter, code in SIDE_CODES.items()}


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


#: The index's NumPy arrays. Per patient record, in birth-date order: ``birth_day``, ``sex``
#: and where its studies and links start (``study_start``, ``link_start``: one more entry than
#: records, so record ``r`` owns positions ``start[r]`` to ``start[r + 1]``). Per study, sorted
#: by patient record, family and date: ``study_family`` (a code into ``families``),
#: ``study_day``, ``study_side`` (:data:`SIDE_CODES`) and ``study_detail_row`` (its row in
#: the detail columns). Per link, both ways
#: round: ``link_target`` (the other record), ``link_probability`` and ``link_reason`` (a code
#: into ``reasons``).
_NUMPY = ("birth_day", "sex", "study_family", "study_day", "study_side", "study_detail_row",
          "study_start", "link_start", "link_target", "link_probability", "link_reason")
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
        self._birth_day, self._sex = arrays["birth_day"], arrays["sex"]
        self._study_family, self._study_day = arrays["study_family"], arrays["study_day"]
        self._study_side = arrays["study_side"]
        self._study_detail_row = arrays["study_detail_row"]
        self._study_start, self._link_start = arrays["study_start"], arrays["link_start"]
        self._link_target = arrays["link_target"]
        self._link_probability, self._link_reason = (arrays["link_probability"],
                                                     arrays["link_reason"])
        self._names, self._issuers, self._ids = (arrays[c] for c in _PATIENT_TEXT)
        self._details = [arrays[c] for c in _DETAILS]
        self._family_codes = {family: code for code, family in enumerate(arrays["families"])}
        self._reasons = [tuple(r) for r in arrays["reasons"]]
        self._ids_sorted: np.ndarray | None = None
        self._order_lock = threading.Lock()
        self.patients = len(self._birth_day)
        self.studies = len(self._study_day)
        if self.patients:  # the first Arrow scalar read is slow: take it here, not in a check
            self.priors([Match(0, 1.0, ())], next(iter(self._family_codes), ""), 1 << 20,
                        1 << 21)

    def people(self, query: Query, *, prior: float, threshold: float) -> list[Match]:
        """Records of the person asked about: direct matches, then their linked records.

        A record matches directly when the linkage model links it to the question, or when
        it is the same registration (same issuer and ID) with the same birth date and no
        conflicting sex. Records linked in the archive to a direct match (one hop) count
        too, with the product of both probabilities. Nothing else does.
        """
        bounds = np.array([query.birth_day, query.birth_day + 1], dtype=self._birth_day.dtype)
        first, end = (int(i) for i in self._birth_day.searchsorted(bounds))
        if first == end:
            return []
        direct: dict[int, Match] = {}
        names = self._names.slice(first, end - first).to_pylist()
        issuers = self._issuers.slice(first, end - first).to_pylist()
        ids = self._ids.slice(first, end - first).to_pylist()
        for offset, sex in enumerate(self._sex[first:end].tolist()):
            row = first + offset
            if query.person.sex and sex and sex != query.person.sex:
                continue  # vetoed whatever the names say
            if query.patient_id and ids[offset] == query.patient_id \
                    and issuers[offset] == query.person.issuer:
                direct[row] = Match(row, 1.0, (
                    "same issuer and patient ID", "birth date equal",
                    "sex equal" if sex and query.person.sex else "sex unknown"))
                continue
            parts, words = _normalised(names[offset] or "")
            record = Person(parts, sex, issuers[offset] or "", words)
            decision = decide(query.person, record, prior=prior, threshold=threshold)
            if decision.linked:
                direct[row] = Match(row, decision.probability, decision.reasons)
        return self._with_linked(direct)

    def _with_linked(self, direct: dict[int, Match]) -> list[Match]:
        found = dict(direct)
        for row, match in direct.items():
            for link in range(int(self._link_start[row]), int(self._link_start[row + 1])):
                other = int(self._link_target[link])
                if other not in found:
                    probability = match.probability * float(self._link_probability[link])
                    found[other] = Match(other, probability, (
                        "linked in the archive to a matching record",
                        *self._reasons[int(self._link_reason[link])]))
        return sorted(found.values(), key=lambda m: m.row)

    def priors(self, matches: list[Match], family: str, day: int, window: int, side: int = 0
               ) -> list[dict[str, Any]]:
        """Studies of the matched records in ``family`` in the ``window`` days up to ``day``.

        Only studies from ``day - window`` to ``day`` count (a study after the order date is
        no prior). With ``side`` left (1) or right (2), studies of the other side are left
        out; a study of both sides, or of a side not known, stays.

        Returns:
            One dict per study: the detail columns plus ``study_day``, ``side`` (its code)
            and the match's ``probability`` and ``reasons``, most recent first.

        """
        code = self._family_codes.get(family)
        if code is None or not matches:
            return []
        picked: list[int] = []
        owners: list[Match] = []
        for match in matches:
            start, end = (int(self._study_start[match.row]),
                          int(self._study_start[match.row + 1]))
            if start == end:
                continue
            days = self._study_day[start:end]
            wanted = (self._study_family[start:end] == code) & (days <= day) \
                & (days >= day - window)
            if side in (1, 2):
                wanted &= self._study_side[start:end] != 3 - side
            hits = np.flatnonzero(wanted)
            picked += (hits + start).tolist()
            owners += [match] * len(hits)
        return self._rows(picked, owners)

    def registered(self, issuer: str, patient_id: str) -> list[Match]:
        """The records of one registration (issuer and patient ID), then their linked records.

        An ID means nothing without its issuer, so both are needed (an empty one finds
        nobody). Records linked in the archive to one of them count too, as in :meth:`people`.
        """
        if not issuer or not patient_id:
            return []
        order = self._id_order()
        low, high = 0, len(order)
        while low < high:  # the first position whose ID is not below patient_id
            middle = (low + high) // 2
            if (self._ids[int(order[middle])].as_py() or "") < patient_id:
                low = middle + 1
            else:
                high = middle
        rows = []
        while low < len(order) and self._ids[int(order[low])].as_py() == patient_id:
            rows.append(int(order[low]))
            low += 1
        return self._with_linked({row: Match(row, 1.0, ("same issuer and patient ID",))
                                  for row in rows if self._issuers[row].as_py() == issuer})

    def _id_order(self) -> np.ndarray:
        """Record rows sorted by patient ID, built at the first search by ID, then kept.

        Sorting takes seconds on millions of records (4.9 s on 5M, 2 shared cores); each
        search after it is a binary search (0.04 ms), where a scan took 80 ms.
        """
        with self._order_lock:
            if self._ids_sorted is None:
                self._ids_sorted = pc.sort_indices(pc.fill_null(self._ids, "")).to_numpy()
            return self._ids_sorted

    def studies_of(self, matches: list[Match], first_day: int, last_day: int
                   ) -> list[dict[str, Any]]:
        """Every study of the matched records dated ``first_day`` to ``last_day``, any family.

        Returns:
            Rows as :meth:`priors` gives them, plus ``family``; most recent first.

        """
        picked: list[int] = []
        owners: list[Match] = []
        for match in matches:
            start, end = (int(self._study_start[match.row]),
                          int(self._study_start[match.row + 1]))
            days = self._study_day[start:end]
            hits = np.flatnonzero((days >= first_day) & (days <= last_day))
            picked += (hits + start).tolist()
            owners += [match] * len(hits)
        families = self.arrays["families"]
        rows = self._rows(picked, owners)
        for row in rows:
            row["family"] = families[row.pop("family_code")]
        return rows

    def _rows(self, picked: list[int], owners: list[Match]) -> list[dict[str, Any]]:
        """The details of the studies at positions ``picked``, most recent first."""
        rows = []
        for study, match in zip(picked, owners, strict=True):
            detail_row = int(self._study_detail_row[study])
            row = {name: column[detail_row].as_py() for name, column in zip(
                _DETAILS, self._details, strict=True)}
            row.update(study_day=int(self._study_day[study]),
                       side=int(self._study_side[study]), probability=match.probability,
                       reasons=match.reasons, family_code=int(self._study_family[study]))
            rows.append(row)
        return sorted(rows, key=lambda r: (-r["study_day"], r["study_uid"]))


def _row_lookup(keys: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping patient keys to their rows, -1 for a key not among ``keys``."""
    if keys.size and keys.min() >= 0 and keys.max() <= 4 * keys.size + 1024:
        table = np.full(int(keys.max()) + 2, -1, dtype=np.int64)  # the last entry stays -1
        table[keys] = np.arange(keys.size)
        return lambda wanted: table[np.clip(wanted, -1, table.size - 1)]
    by_key = np.argsort(keys)
    ordered = keys[by_key]

    def rows(wanted: np.ndarray) -> np.ndarray:
        if not keys.size:
            return np.full(wanted.shape, -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(ordered, wanted), keys.size - 1)
        return np.where(ordered[at] == wanted, by_key[at], -1)
    return rows


def index_arrays(patients: pl.DataFrame, studies: pl.DataFrame, links: pl.DataFrame
                 ) -> dict[str, Any]:
    """The index's arrays from the rows of the three ``check_*.sql`` queries.

    The queries filter patient records alike; a study or link whose record is not among the
    patients anyway (an archive changed by hand, say) is left out with a warning, never
    taken for another record's.
    """
    out: dict[str, Any] = {"birth_day": patients["birth_day"].to_numpy(),
                           "sex": patients["sex"].to_numpy()}
    out |= {c: patients[c].rechunk().to_arrow() for c in _PATIENT_TEXT}
    rows = _row_lookup(patients["patient_key"].to_numpy())
    study_rows = rows(studies["patient_key"].to_numpy())
    row_a, row_b = (rows(links[c].to_numpy()) for c in ("patient_key_a", "patient_key_b"))
    studies, study_rows = _known(studies, study_rows, study_rows >= 0, "studies")
    kept = (row_a >= 0) & (row_b >= 0)
    links, row_a = _known(links, row_a, kept, "links")
    out |= _study_arrays(studies, study_rows, patients.height)
    out |= _link_arrays(links, row_a, row_b[kept], patients.height)
    return out


def _known(rows: pl.DataFrame, patient_row: np.ndarray, kept: np.ndarray, what: str
           ) -> tuple[pl.DataFrame, np.ndarray]:
    """The rows (and their patient rows) whose patient records are in the index."""
    if bool(kept.all()):
        return rows, patient_row
    log.warning("check index: %d %s of patient records outside the index left out",
                int((~kept).sum()), what)
    return rows.filter(pl.Series(kept)), patient_row[kept]


def _study_arrays(studies: pl.DataFrame, patient_row: np.ndarray, patients: int
                  ) -> dict[str, Any]:
    families = sorted(studies["family"].unique().to_list())
    family = studies["family"].replace_strict({f: c for c, f in enumerate(families)},
                                              return_dtype=pl.Int32).to_numpy()
    day = studies["study_day"].to_numpy()
    order = np.lexsort((day, family, patient_row))  # patient row, then family, then date
    return {"families": families, "study_family": family[order], "study_day": day[order],
            "study_side": studies["side"].to_numpy()[order],
            "study_detail_row": order,  # the detail columns keep the query's order
            "study_start": np.searchsorted(patient_row[order], np.arange(patients + 1))} | {
        name: studies[name].rechunk().to_arrow() for name in _DETAILS}


def _link_arrays(links: pl.DataFrame, row_a: np.ndarray, row_b: np.ndarray, patients: int
                 ) -> dict[str, Any]:
    texts = links["reasons"].unique().to_list()
    codes = links["reasons"].replace_strict({t: i for i, t in enumerate(texts)},
                                            return_dtype=pl.Int32).to_numpy()
    source, target = np.concatenate([row_a, row_b]), np.concatenate([row_b, row_a])
    order = np.argsort(source, kind="stable")
    return {"reasons": [json.loads(t) for t in texts],
            "link_start": np.searchsorted(source[order], np.arange(patients + 1)),
            "link_target": target[order],
            "link_probability": np.concatenate(
                [links["match_probability"].to_numpy()] * 2)[order],
            "link_reason": np.concatenate([codes, codes])[order]}


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

    Raises:
        ArchiveError: the snapshot was published by an older dedup (an older schema).

    """
    version, newest = archive.schema_version(), migrations()[-1][0]
    if version < newest:
        raise ArchiveError(f"the published snapshot has schema version {version}, this dedup "
                           f"reads {newest}: run `dedup index` (or `dedup nightly`), which "
                           "migrates the archive and publishes it again")
    params = {"birth": birth_date}
    archive.execute(named_sql("check_index_settings"), {"threads": threads or None})
    patients = archive.run("check_patients", params)
    studies = archive.run("check_studies", params)
    links = archive.run("check_links", params)
    return PriorIndex(index_arrays(patients, studies, links), Path(archive.path).name)


def day_number(value: date) -> int:
    """Days since 1970-01-01 (the index's date unit)."""
    return (value - date(1970, 1, 1)).days

