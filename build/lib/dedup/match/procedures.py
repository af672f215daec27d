"""Procedure families: modality + body part + descriptions (+ codes) -> ``CT HEAD``, ``MR BRAIN``.

The mapping is an editable table, ``dedup/data/procedure_families.csv`` (also reachable as
``data/procedure_families.csv`` in the source tree); the ``procedure_families`` setting points
to a replacement. One row per family and modality group:

``family``
    The normalised name, e.g. ``CT ABDOMEN PELVIS``.
``modality``
    The modality group: ``CT``, ``MR``, ``XR`` (CR, DX, RG, DR), ``US``, ``MG``, ``NM``, ``PT``.
``terms``
    ``|``-separated alternatives; each alternative is a set of words that must all occur.
``codes``
    ``|``-separated procedure code values (any coding scheme), matched first.

A study is classified by the first source that matches any row: the procedure code, then the
study description, then BodyPartExamined, then the series descriptions (a body part is often
left at a device default, so descriptions come first). Among rows matching the same source the
most specific alternative (most words) wins, then the earlier row. A study nothing matches
gets the fallback family ``<group> <body part>`` (or ``<group> OTHER``), ``known = false``:
it is reported by :func:`unknown_procedures` and never used for ``repeat`` (no look-back window
is defined for it), because a guessed family must not cause a false repeat warning.

Look-back windows per family live in ``dedup/data/lookback_windows.csv`` (``family, days,
source``), each row citing the published practice it follows.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from io import StringIO
from pathlib import Path

import polars as pl
import xxhash

from dedup.archive.db import Archive
from dedup.errors import UsageError

#: DICOM Modality values grouped as the family's modality, in the order a study with several
#: modalities is classified by (an image modality before SR, KO, PR ...).
MODALITY_GROUPS: dict[str, str] = {
    "CT": "CT", "MR": "MR", "PT": "PT", "NM": "NM", "MG": "MG", "US": "US",
    "CR": "XR", "DX": "XR", "DR": "XR", "RG": "XR", "XR": "XR", "RF": "RF", "XA": "XA",
}  # fmt: skip
_SOURCES = ("code", "description", "body part", "series")


@dataclass(frozen=True, slots=True)
class FamilyRule:
    """One row of the family table."""

    family: str
    modality: str
    alternatives: tuple[frozenset[str], ...]
    codes: frozenset[str]


@dataclass(frozen=True, slots=True)
class ProcedureRules:
    """The family rules and look-back windows in force, with a version (content hash)."""

    rules: tuple[FamilyRule, ...]
    windows: dict[str, int]
    version: str


def load_mapping(families: str | Path = "", windows: str | Path = "") -> ProcedureRules:
    """Read the family rules and windows (empty path = the shipped tables).

    Raises:
        UsageError: a file is missing, or rows are malformed (all problems listed together).

    """
    rules_text = _read(families, "procedure_families.csv")
    windows_text = _read(windows, "lookback_windows.csv")
    rules = parse_rules(rules_text)
    return ProcedureRules(rules, parse_windows(windows_text),
                          xxhash.xxh3_64_hexdigest(f"{rules_text}\0{windows_text}".encode()))


def _read(path: str | Path, shipped: str) -> str:
    if not path:
        return resources.files("dedup").joinpath("data", shipped).read_text(encoding="utf-8")
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {str(path)!r} ({exc.strerror}); fix the path or unset "
                         "the setting to use the shipped table") from None


def parse_rules(text: str) -> tuple[FamilyRule, ...]:
    """Parse the family table.

    Raises:
        UsageError: missing columns or rows without a family, modality or terms.

    """
    reader = csv.DictReader(StringIO(text))
    missing = {"family", "modality", "terms"} - set(reader.fieldnames or ())
    if missing:
        raise UsageError(f"procedure family table lacks columns {sorted(missing)}; "
                         "expected family,modality,terms,codes")
    rules, problems = [], []
    for line, row in enumerate(reader, start=2):
        family, modality = _words(row.get("family")), (row.get("modality") or "").strip().upper()
        alternatives = tuple(frozenset(_tokens(alt)) for alt in (row.get("terms") or "").split("|")
                             if _tokens(alt))
        if not family or not modality or not alternatives:
            problems.append(f"line {line}: needs family, modality and terms")
            continue
        codes = frozenset(c.strip().upper() for c in (row.get("codes") or "").split("|")
                          if c.strip())
        rules.append(FamilyRule(family, modality, alternatives, codes))
    if problems:
        raise UsageError("procedure family table: " + "; ".join(problems))
    return tuple(rules)


def parse_windows(text: str) -> dict[str, int]:
    """Parse the look-back table into ``{family: days}``.

    Raises:
        UsageError: a row without a family, or days that are not a positive integer.

    """
    windows, problems = {}, []
    for line, row in enumerate(csv.DictReader(StringIO(text)), start=2):
        family, days = _words(row.get("family")), (row.get("days") or "").strip()
        if not family or not days.isdigit() or int(days) < 1:
            problems.append(f"line {line}: needs a family and days >= 1 (got {days!r})")
            continue
        windows[family] = int(days)
    if problems:
        raise UsageError("look-back window table: " + "; ".join(problems))
    return windows


def modality_group(modalities: str) -> str:
    """The family modality of a study's modalities (``CT/SR`` -> ``CT``, ``DX`` -> ``XR``)."""
    values = [m.strip().upper() for m in re.split(r"[\\,/ ]+", modalities or "") if m.strip()]
    for modality, group in MODALITY_GROUPS.items():
        if modality in values:
            return group
    return values[0] if values else "OT"


@dataclass(frozen=True, slots=True)
class Family:
    """A study's family and how it was found (``rule`` never holds patient data)."""

    family: str
    known: bool
    rule: str


def classify_procedure(rules: Iterable[FamilyRule], modalities: str, body_part: str = "",
                       description: str = "", code: str = "", series: str = "") -> Family:
    """Normalise one study's procedure into a family.

    Args:
        rules: the family table.
        modalities: the study's modalities (backslash-separated).
        body_part: BodyPartExamined.
        description: StudyDescription.
        code: procedure code as ``scheme:value`` or ``value`` (empty when absent).
        series: series descriptions, joined by any separator.

    Returns:
        The family; ``known`` is false for the fallback.

    """
    group = modality_group(modalities)
    candidates = [r for r in rules if r.modality == group]
    value = code.rsplit(":", 1)[-1].strip().upper()
    texts = {"description": _tokens(description), "body part": _tokens(body_part),
             "series": _tokens(series)}
    for source in _SOURCES:
        if source == "code":
            hit = next((r for r in candidates if value and value in r.codes), None)
            if hit:
                return Family(hit.family, True, "code")
            continue
        best = _best(candidates, texts[source])
        if best is not None:
            return Family(best.family, True, source)
    part = " ".join(sorted(texts["body part"])) or "OTHER"
    return Family(f"{group} {part}", False, "fallback")


def _best(rules: list[FamilyRule], words: set[str]) -> FamilyRule | None:
    best, size = None, 0
    for rule in rules:
        for alt in rule.alternatives:
            if len(alt) > size and alt <= words:
                best, size = rule, len(alt)
    return best


def _tokens(text: str | None) -> set[str]:
    """Upper-case ASCII words; ``L-SPINE`` gives ``L``, ``SPINE`` and ``LSPINE``."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().upper()
    words = set(re.findall(r"[A-Z0-9]+", plain))
    words |= {a + b for a, b in re.findall(r"\b([A-Z])[-/ ]([A-Z]{3,})\b", plain)}
    return words


def _words(text: str | None) -> str:
    return " ".join((text or "").upper().split())


def assign_families(archive: Archive, mapping: ProcedureRules) -> int:
    """Store the family of every study that has none, or one from another mapping version.

    Returns:
        The number of studies (re)classified.

    """
    rows = archive.run("studies_without_family", [mapping.version])
    if rows.is_empty():
        return 0
    cache: dict[tuple[str, ...], Family] = {}
    out = []
    for key, *fields in rows.iter_rows():
        values = tuple(f or "" for f in fields)
        if values not in cache:
            cache[values] = classify_procedure(mapping.rules, *values)
        fam = cache[values]
        out.append({"study_key": key, "family": fam.family, "known": fam.known,
                    "rule": fam.rule, "mapping": mapping.version})
    families = pl.DataFrame(out, schema={"study_key": pl.Int64, "family": pl.String,
                                         "known": pl.Boolean, "rule": pl.String,
                                         "mapping": pl.String})
    with archive.registered(new_families=families):
        archive.script("store_families")
    return len(out)


def unknown_procedures(archive: Archive) -> pl.DataFrame:
    """Descriptions no mapping row matched, most frequent first: the list to add rows for."""
    return archive.run("unknown_procedures")
