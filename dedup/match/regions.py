"""Body regions and laterality, read from the words of orders and studies.

The region vocabulary is ``dedup/data/body_regions.csv``: DICOM's Common Anatomic Regions
(CID 4031), keyed by the Body Part Examined defined terms of PS3.16 Annex L (``HEAD``,
``CSPINE``, ``ABDOMENPELVIS`` ...), each with its SNOMED CT code and meaning, whether the
region has sides (``paired``) and the words that name it (``synonyms``: ``|``-separated
alternatives, each a set of words that must all occur, e.g. ``BRAIN`` or ``CERVICAL SPINE``
for the regions ``HEAD`` and ``CSPINE``). Every row states its source.

Laterality uses DICOM's Image Laterality letters: ``L``, ``R``, ``B`` (both) and ``U`` (an
unpaired region, which has no sides); an empty string means not known.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from io import StringIO
from typing import Generic, Protocol, TypeVar

from dedup.errors import UsageError

#: Words that make a CT or MR an angiography (a procedure of its own, not a repeat of a
#: plain CT or MR of the same region). Their presence adds the word ``ANGIO``.
ANGIO_WORDS = frozenset({"ANGIO", "CTA", "MRA", "CTV", "MRV", "ANGIOGRAM", "ANGIOGRAPHY",
                         "ANGIOGRAPHIC", "ARTERIOGRAM", "ARTERIOGRAPHY", "VENOGRAM",
                         "VENOGRAPHY"})
_LEFT = frozenset({"LEFT", "LT", "LFT"})
_RIGHT = frozenset({"RIGHT", "RT", "RGT"})
_BOTH = frozenset({"BILAT", "BILATERAL", "BOTH", "BILATERALLY"})
#: Words that only name a side.
SIDE_WORDS = _LEFT | _RIGHT | _BOTH
#: Mammography view labels carry the side as their first letter (``L CC``, ``RMLO``).
_VIEW = re.compile(r"\b([LR])[ -]?(?:CC|MLO|ML|LM|XCCL)\b")
#: Ways an order gives its side: letters, words, and SNOMED CT's laterality qualifiers
#: (7771000 left, 24028007 right, 51440002 right and left), as FHIR ``bodySite`` codes them.
LATERALITY_CODES = frozenset({"7771000", "24028007", "51440002"})
SIDES: dict[str, str] = {
    "L": "L", "LEFT": "L", "7771000": "L", "R": "R", "RIGHT": "R", "24028007": "R",
    "B": "B", "BOTH": "B", "BILATERAL": "B", "51440002": "B",
}  # fmt: skip


class _Alternatives(Protocol):
    @property
    def alternatives(self) -> tuple[frozenset[str], ...]: ...


_Item = TypeVar("_Item", bound=_Alternatives)


@dataclass(frozen=True, slots=True)
class Region:
    """One body region of the vocabulary."""

    term: str  # the Body Part Examined defined term, e.g. KNEE
    sct: str  # SNOMED CT code value
    meaning: str  # SNOMED CT code meaning, e.g. Knee
    paired: bool  # has a left and a right
    alternatives: tuple[frozenset[str], ...]


def parse_regions(text: str) -> tuple[Region, ...]:
    """Parse the region table.

    Raises:
        UsageError: missing columns, or rows without a term, synonyms or a ``Y``/``N``
            paired flag (all problems listed together).

    """
    reader = csv.DictReader(StringIO(text))
    missing = {"region", "sct", "meaning", "paired", "synonyms", "source"} - set(
        reader.fieldnames or ())
    if missing:
        raise UsageError(f"body region table lacks columns {sorted(missing)}")
    regions, problems = [], []
    for line, row in enumerate(reader, start=2):
        term = (row.get("region") or "").strip().upper()
        paired = (row.get("paired") or "").strip().upper()
        alternatives = alternatives_of(row.get("synonyms"))
        if not term or paired not in ("Y", "N") or not alternatives \
                or not (row.get("source") or "").strip():
            problems.append(f"line {line}: needs region, paired (Y or N), synonyms and source")
            continue
        regions.append(Region(term, (row.get("sct") or "").strip(),
                              (row.get("meaning") or "").strip(), paired == "Y", alternatives))
    if problems:
        raise UsageError("body region table: " + "; ".join(problems))
    return tuple(regions)


def alternatives_of(text: str | None) -> tuple[frozenset[str], ...]:
    """``|``-separated alternatives, each the set of its words (empty ones dropped)."""
    return tuple(frozenset(words(alt)) for alt in (text or "").split("|") if words(alt))


class Vocabulary(Generic[_Item]):
    """Finds the item with the most specific alternative all of whose words occur.

    Most words first, then the longest words (``TSPINE`` before ``SPINE``), then the earlier
    item. Each word points to the alternatives holding it, so a lookup reads only those.
    """

    def __init__(self, items: Iterable[_Item]) -> None:
        self._by_word: dict[str, list[tuple[tuple[int, int, int], frozenset[str], _Item]]] = {}
        for order, item in enumerate(items):
            for alt in item.alternatives:
                rank = (len(alt), sum(map(len, alt)), -order)
                for word in alt:
                    self._by_word.setdefault(word, []).append((rank, alt, item))

    def best(self, found: set[str]) -> tuple[_Item | None, int]:
        """The best item for the words ``found`` and its alternative's word count.

        Returns:
            The item (``None`` when no alternative matches) and the number of words.

        """
        best, rank = None, (0, 0, 0)
        for word in found:
            for candidate, alt, item in self._by_word.get(word, ()):
                if candidate > rank and alt <= found:
                    best, rank = item, candidate
        return best, rank[0]


def words(text: str | None) -> set[str]:
    """Upper-case ASCII words; ``L-SPINE`` gives ``L``, ``SPINE`` and ``LSPINE``.

    Any angiography word (:data:`ANGIO_WORDS`) adds ``ANGIO``.
    """
    plain = _plain(text)
    found = set(re.findall(r"[A-Z0-9]+", plain))
    found |= {a + b for a, b in re.findall(r"\b([A-Z])[-/ ]([A-Z]{3,})\b", plain)}
    if found & ANGIO_WORDS:
        found.add("ANGIO")
    return found


def _plain(text: str | None) -> str:
    return unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().upper()


def laterality(texts: Iterable[str | None]) -> str:
    """The side the texts name together: ``L``, ``R``, ``B`` or ``""`` (none named).

    ``LEFT``/``LT``, ``RIGHT``/``RT``, ``BILATERAL``/``BILAT``/``BOTH`` and mammography
    view labels (``L CC``, ``RMLO``) count; a left and a right together are both sides.
    """
    sides: set[str] = set()
    for text in texts:
        found = words(text)
        sides |= {"L"} if found & _LEFT else set()
        sides |= {"R"} if found & _RIGHT else set()
        sides |= {"B"} if found & _BOTH else set()
        sides |= set(_VIEW.findall(_plain(text)))
    return _together(sides)


def tagged_side(letters: str) -> str:
    """The side of a study whose images' tags give ``letters`` (``L``, ``R``, ``B``, ``U``).

    Left and right images together are both sides; ``U`` (no sides) says nothing about a
    region that has them, so only the words can tell then.
    """
    return _together(set(letters) & {"L", "R", "B"})


def _together(sides: set[str]) -> str:
    """``B`` for both sides (or left and right), else the one side, else ``""``."""
    if "B" in sides or {"L", "R"} <= sides:
        return "B"
    return next(iter(sides), "")


def order_side(value: str) -> str | None:
    """An order's laterality as ``L``, ``R``, ``B`` or ``""`` (not given); ``None``: invalid."""
    text = " ".join(_plain(value).split())
    return SIDES.get(text) if text else ""
