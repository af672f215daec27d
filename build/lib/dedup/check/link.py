"""Whether the patient asked about is the same person as an archived patient record.

The pre-order check has to decide this for one question against a few dozen records in well
under a millisecond, so it cannot run the Splink model of :mod:`dedup.match.linkage` per
request. This module applies the *same* Fellegi-Sunter model and the same vetoes in plain
Python, reading its m/u probabilities and veto sets from ``dedup.match.linkage``; the name
comparisons themselves are re-implemented, and ``tests/check/test_link.py`` scores name pairs
both ways and requires the same decision and probability.

Only pairs with the same birth date are ever compared (the index blocks on it), so birth date
always agrees here. A decision's reasons never contain a name, an ID or a date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler

from dedup.match import linkage
from dedup.match.linkage import NameParts

#: (m, u) of each name level, in the order they are tested: the linkage model's own values.
NAME_LEVELS: dict[str, tuple[float, float]] = {
    label: (m, u) for label, _, m, u in linkage.NAME_LEVELS}
_GIVEN_CONFLICT = linkage.GIVEN_CONFLICT | {"unknown"}
_SEX_EQUAL = math.log2(linkage.SEX_EQUAL[0] / linkage.SEX_EQUAL[1])
_BIRTH_EQUAL = math.log2(linkage.BIRTH_EQUAL[0] / linkage.BIRTH_EQUAL[1])
SEX_CODES: dict[str, int] = {"M": 1, "F": 2, "MALE": 1, "FEMALE": 2}


@dataclass(frozen=True, slots=True)
class Person:
    """Normalised demographics of one side of a comparison (birth date implied equal)."""

    name: NameParts
    sex: int  # 0 unknown or other, 1 male, 2 female
    issuer: str = ""
    words: frozenset[str] = frozenset()  # the name's words; filled in when left empty

    def __post_init__(self) -> None:
        if not self.words:
            object.__setattr__(self, "words", frozenset(self.name.words))


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """The model's verdict on one pair: linked or not, with probability and reasons."""

    linked: bool
    probability: float
    reasons: tuple[str, ...]


def sex_code(value: str | None) -> int:
    """``M``/``male`` -> 1, ``F``/``female`` -> 2, anything else (unknown, other) -> 0."""
    return SEX_CODES.get((value or "").strip().upper(), 0)


def name_level(a: NameParts, b: NameParts, wa: frozenset[str] | None = None,
               wb: frozenset[str] | None = None) -> str:
    """The agreement level of two normalised names (``unknown`` when a family name is missing).

    Empty given names compare like SQL NULLs (never equal), as in the Splink model. ``wa``
    and ``wb`` are the names' word sets when the caller has them already.
    """
    if not a.family or not b.family:
        return "unknown"
    given_equal = bool(a.given) and a.given == b.given
    if a.family == b.family and given_equal:
        return "identical" if a.middle == b.middle else "middle name missing or different"
    wa = frozenset(a.words) if wa is None else wa
    wb = frozenset(b.words) if wb is None else wb
    if len(wa & wb) >= 2 and (wa <= wb or wb <= wa):
        return "same words, other order"
    if (a.given and b.given and jaro_winkler(a.family, b.family) >= 0.9
            and jaro_winkler(a.given, b.given) >= 0.9):
        return "spelling variant"
    return "family name only" if a.family == b.family else "different"


def decide(query: Person, record: Person, *, prior: float, threshold: float) -> LinkDecision:
    """Score a same-birth-date pair with the linkage model and apply its vetoes.

    Args:
        query: the patient asked about.
        record: an archived patient record with the same birth date.
        prior: probability that two random records are the same person (``link_prior``).
        threshold: least probability to link (``link_threshold``).

    Returns:
        The decision; ``linked`` only when the probability reaches the threshold and no
        veto applies (precision over recall).

    """
    level = name_level(query.name, record.name, query.words, record.words)
    weight = math.log2(prior / (1 - prior)) + _BIRTH_EQUAL
    if level != "unknown":
        m, u = NAME_LEVELS[level]
        weight += math.log2(m / u)
    reasons = ["birth date equal", f"name: {level}"]
    vetoes = []
    if query.sex and record.sex:
        if query.sex == record.sex:
            weight += _SEX_EQUAL
            reasons.append("sex equal")
        else:
            weight += math.log2(0.01 / 0.5)
            reasons.append("sex differs")
            vetoes.append("veto: sex differs")
    else:
        reasons.append("sex unknown")
    if level in _GIVEN_CONFLICT:
        vetoes.append("veto: given names differ (possible twin)")
    if query.issuer and query.issuer == record.issuer and level not in linkage.NAMES_AGREE:
        vetoes.append("veto: two registrations at one issuer with differing names")
    probability = 1.0 / (1.0 + 2.0 ** -weight)
    return LinkDecision(probability >= threshold and not vetoes, probability,
                        tuple(reasons + vetoes))


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity, as DuckDB's ``jaro_winkler_similarity`` computes it.

    Both use RapidFuzz's algorithm (prefix weight 0.1, up to 4 characters, applied when the
    Jaro similarity exceeds 0.7); ``tests/check/test_link.py`` compares them.
    """
    return float(JaroWinkler.similarity(a, b))
