"""Procedure families: modality class + body region, e.g. ``CT HEAD``, ``XR HAND``, ``MR KNEE``.

A family is a modality class (:data:`MODALITY_GROUPS`: CR, DX, DR and RG are one class, XR;
XA and RF are one, XA) and a body region of DICOM's vocabulary (:mod:`dedup.match.regions`,
``dedup/data/body_regions.csv``), with the word ``ANGIO`` for a CT or MR angiography. Three
tables define the mapping:

``dedup/data/procedure_families.csv`` (the ``procedure_families`` setting replaces it)
    The curated families, matched first; they refine names, synonyms and windows. Columns
    ``family``, ``modality`` (a class), ``terms`` (``|``-separated alternatives, each a set
    of words that must all occur), ``codes`` (``|``-separated procedure code values of any
    scheme: CPT, RadLex Playbook RPIDs ...) and ``region`` (the body region the family
    stands for, when it stands for a whole one: a region found in a study's words is named
    after the curated family of its class and region, so ``MR`` + ``HEAD`` is ``MR BRAIN``).
``dedup/data/body_regions.csv``
    The body regions, their SNOMED CT codes, sides and synonyms.
``dedup/data/lookback_windows.csv`` (the ``lookback_windows`` setting replaces it)
    Look-back days per family and, in rows named by a class alone (``XR``), the default of
    every family of that class; each row cites the practice it follows.

A study or an order is classified by the first source that names something: the procedure
code (curated codes), then the study description, then BodyPartExamined, then the series
descriptions (a body part is often left at a device default, so descriptions come first).
Within a source a curated family wins over a region named by as many words or fewer
(``CT HEAD NECK`` is the region ``HEADNECK``, not the curated ``CT HEAD``). Nothing found:
the family is the class and the body part as written (``CT GLUTEUS``, ``known = false``:
compared only with studies whose body part reads the same, and never a ``repeat``), or
``<class> OTHER`` when there is no body part either (``rule = 'none'``: nothing to compare
with).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from importlib import resources
from io import StringIO
from pathlib import Path

import polars as pl
import xxhash

from dedup.archive.db import Archive
from dedup.errors import UsageError
from dedup.match.regions import (
    SIDE_WORDS,
    Region,
    Vocabulary,
    alternatives_of,
    laterality,
    parse_regions,
    tagged_side,
    words,
)

#: DICOM Modality values -> modality class, in the order a study with several modalities is
#: classified by: PET and NM before CT (the CT of a PET/CT or SPECT/CT only locates), any
#: image modality before SR, KO, PR ...
MODALITY_GROUPS: dict[str, str] = {
    "PT": "PT", "NM": "NM", "MG": "MG", "CT": "CT", "MR": "MR", "US": "US",
    "CR": "XR", "DX": "XR", "DR": "XR", "RG": "XR", "XR": "XR", "XA": "XA", "RF": "XA",
}  # fmt: skip
_SOURCES = ("code", "description", "body part", "series")


@dataclass(frozen=True, slots=True)
class FamilyRule:
    """One row of the curated family table."""

    family: str
    modality: str
    alternatives: tuple[frozenset[str], ...]
    codes: frozenset[str]
    region: str = ""

    @property
    def angio(self) -> bool:
        """Whether the family is an angiography (``CT ANGIO HEAD``)."""
        return "ANGIO" in self.family.split()


@dataclass(frozen=True, slots=True)
class ProcedureRules:
    """The mapping in force, with a version (content hash of its tables).

    ``windows`` holds the families' own look-back days, ``class_windows`` the defaults of
    the modality classes.
    """

    rules: tuple[FamilyRule, ...]
    windows: dict[str, int]
    version: str
    regions: tuple[Region, ...] = ()
    class_windows: dict[str, int] = field(default_factory=dict)
    _terms: dict[str, Region] = field(init=False, repr=False, compare=False)
    _regions: Vocabulary[Region] = field(init=False, repr=False, compare=False)
    _families: dict[tuple[str, bool], Vocabulary[FamilyRule]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # lookup structures, built once per mapping
        object.__setattr__(self, "_terms", {r.term: r for r in self.regions})
        object.__setattr__(self, "_regions", Vocabulary(self.regions))
        object.__setattr__(self, "_families", {
            (group, angio): Vocabulary(r for r in self.rules
                                       if r.modality == group and (r.angio or not angio))
            for group in {r.modality for r in self.rules} for angio in (False, True)})

    def window(self, family: str) -> int | None:
        """Look-back days of ``family``: its own, else its class's default (``None``: none)."""
        days = self.windows.get(family)
        return days if days is not None else self.class_windows.get(family.split()[0])

    def region(self, term: str) -> Region | None:
        """The region with the defined term ``term``."""
        return self._terms.get(term)

    def region_words(self) -> Vocabulary[Region]:
        """The regions, found by their words."""
        return self._regions

    def family_words(self, group: str, angio: bool) -> Vocabulary[FamilyRule]:
        """The curated families of a modality class, found by their words.

        For an angiography (``angio``), only the curated angiographies.
        """
        return self._families.get((group, angio)) or _NO_FAMILIES


_NO_FAMILIES: Vocabulary[FamilyRule] = Vocabulary(())


def load_mapping(families: str | Path = "", windows: str | Path = "") -> ProcedureRules:
    """Read the family rules, regions and windows (empty path = the shipped tables).

    Raises:
        UsageError: a file is missing, or rows are malformed (all problems listed together).

    """
    rules_text = _read(families, "procedure_families.csv")
    windows_text = _read(windows, "lookback_windows.csv")
    regions_text = _read("", "body_regions.csv")
    regions = parse_regions(regions_text)
    rules = parse_rules(rules_text, {r.term for r in regions})
    own, defaults = parse_windows(windows_text)
    version = xxhash.xxh3_64_hexdigest(f"{rules_text}\0{windows_text}\0{regions_text}".encode())
    return ProcedureRules(rules, own, version, regions, defaults)


def _read(path: str | Path, shipped: str) -> str:
    if not path:
        return resources.files("dedup").joinpath("data", shipped).read_text(encoding="utf-8")
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {str(path)!r} ({exc.strerror}); fix the path or unset "
                         "the setting to use the shipped table") from None


def parse_rules(text: str, regions: set[str] | None = None) -> tuple[FamilyRule, ...]:
    """Parse the curated family table (``regions``: the known region terms, to check).

    Raises:
        UsageError: missing columns, rows without a family, modality or terms, or naming
            a region that is not in the vocabulary.

    """
    reader = csv.DictReader(StringIO(text))
    missing = {"family", "modality", "terms"} - set(reader.fieldnames or ())
    if missing:
        raise UsageError(f"procedure family table lacks columns {sorted(missing)}; "
                         "expected family,modality,terms,codes,region")
    rules, problems = [], []
    for line, row in enumerate(reader, start=2):
        family, modality = _words(row.get("family")), (row.get("modality") or "").strip().upper()
        alternatives = alternatives_of(row.get("terms"))
        region = (row.get("region") or "").strip().upper()
        if not family or not modality or not alternatives:
            problems.append(f"line {line}: needs family, modality and terms")
            continue
        if region and regions is not None and region not in regions:
            problems.append(f"line {line}: region {region[:20]!r} is not a body region of "
                            "dedup/data/body_regions.csv")
            continue
        codes = frozenset(c.strip().upper() for c in (row.get("codes") or "").split("|")
                          if c.strip())
        rules.append(FamilyRule(family, modality, alternatives, codes, region))
    if problems:
        raise UsageError("procedure family table: " + "; ".join(problems))
    return tuple(rules)


def parse_windows(text: str) -> tuple[dict[str, int], dict[str, int]]:
    """Parse the look-back table into ``({family: days}, {class: default days})``.

    Raises:
        UsageError: a row without a family, or days that are not a positive integer.

    """
    windows: dict[str, int] = {}
    defaults: dict[str, int] = {}
    problems = []
    for line, row in enumerate(csv.DictReader(StringIO(text)), start=2):
        family, days = _words(row.get("family")), (row.get("days") or "").strip()
        if not family or not days.isdigit() or int(days) < 1:
            problems.append(f"line {line}: needs a family and days >= 1 (got {days!r})")
            continue
        (windows if " " in family else defaults)[family] = int(days)
    if problems:
        raise UsageError("look-back window table: " + "; ".join(problems))
    return windows, defaults


def modality_group(modalities: str) -> str:
    """The modality class of a study's modalities (``CT/SR`` -> ``CT``, ``DX`` -> ``XR``)."""
    values = [m.strip().upper() for m in re.split(r"[\\,/ ]+", modalities or "") if m.strip()]
    for modality, group in MODALITY_GROUPS.items():
        if modality in values:
            return group
    return values[0] if values else "OT"


@dataclass(frozen=True, slots=True)
class Family:
    """A study's or an order's family and how it was found (never patient data).

    ``rule`` is the source that named it (``code``, ``description``, ``body part``,
    ``series``), ``fallback`` (the class and the body part as written) or ``none``.
    ``region`` is the body region's defined term (empty when none was found); ``laterality``
    is ``L``, ``R``, ``B``, ``U`` (the region has no sides) or empty (not known).
    """

    family: str
    known: bool
    rule: str
    region: str = ""
    laterality: str = ""
    curated: bool = False


def classify_procedure(mapping: ProcedureRules, modalities: str, body_part: str = "",
                       description: str = "", code: str = "", series: str = "",
                       tagged: str = "") -> Family:
    """Normalise one study's (or order's) procedure into a family.

    Args:
        mapping: the tables in force (:func:`load_mapping`).
        modalities: the modalities (backslash-separated), or a modality class.
        body_part: BodyPartExamined.
        description: StudyDescription.
        code: procedure code as ``scheme:value`` or ``value`` (empty when absent).
        series: series descriptions, joined by any separator.
        tagged: the sides the images' DICOM tags give (:mod:`dedup.ingest.laterality`), as
            letters (``"LR"``: some images left, some right); they win over the words.

    Returns:
        The family; ``known`` is false for the fallbacks.

    """
    group = modality_group(modalities)
    texts = {"description": words(description), "body part": words(body_part),
             "series": words(series)}
    angio = group not in ("XA",) and "ANGIO" in texts["description"] | texts["series"]
    families, regions = mapping.family_words(group, angio), mapping.region_words()
    side = tagged_side(tagged) or laterality([description]) or laterality([series])
    value = code.rsplit(":", 1)[-1].strip().upper()
    for source in _SOURCES:
        if source == "code":
            rule = next((r for r in mapping.rules if value and value in r.codes
                         and r.modality == group and (r.angio or not angio)), None)
            size = 99
        else:
            rule, size = families.best(texts[source])
        region, region_size = regions.best(texts.get(source, set()))
        if rule is not None and size >= region_size:
            return curated_family(mapping, rule, source, side)
        if region is not None:
            return _of_region(mapping, group, angio, region, source, side)
    part = " ".join(sorted(texts["body part"] - SIDE_WORDS - {"ANGIO"}))
    if not part:
        return Family(f"{group} OTHER", False, "none", "", side)
    return Family(f"{group} {part}", False, "fallback", "", side)


def curated_family(mapping: ProcedureRules, rule: FamilyRule, source: str, side: str = ""
                   ) -> Family:
    """The family of a curated rule, found by ``source``, on ``side`` (if it has sides)."""
    region = mapping.region(rule.region) if rule.region else None
    paired = region is not None and region.paired
    return Family(rule.family, True, source, rule.region, side if paired else "U", True)


def _of_region(mapping: ProcedureRules, group: str, angio: bool, region: Region, source: str,
               side: str) -> Family:
    rule = next((r for r in mapping.rules if r.modality == group and r.region == region.term
                 and r.angio == angio), None)
    name = rule.family if rule else f"{group}{' ANGIO' if angio else ''} {region.term}"
    return Family(name, True, source, region.term, side if region.paired else "U",
                  rule is not None)


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
            cache[values] = classify_procedure(mapping, *values)
        fam = cache[values]
        out.append({"study_key": key, "family": fam.family, "known": fam.known,
                    "rule": fam.rule, "mapping": mapping.version,
                    "region": fam.region or None, "laterality": fam.laterality or None})
    families = pl.DataFrame(out, schema={"study_key": pl.Int64, "family": pl.String,
                                         "known": pl.Boolean, "rule": pl.String,
                                         "mapping": pl.String, "region": pl.String,
                                         "laterality": pl.String})
    with archive.registered(new_families=families):
        archive.script("store_families")
    return len(out)


def unknown_procedures(archive: Archive) -> pl.DataFrame:
    """Descriptions no family or region matched, most frequent first: rows to add."""
    return archive.run("unknown_procedures")
