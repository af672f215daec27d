"""Patient linkage across institutions: a Fellegi-Sunter model run by Splink on DuckDB.

The same person appears at several institutions under other MRNs and issuers, with names
spelled ``MUELLER^HANS``, ``Müller^Hans``, ``HANS^MUELLER`` (swapped), ``MEULLER^HANS`` (typo)
or without a middle name. Each pair of patient records gets a Fellegi-Sunter match weight: the
log2 prior odds plus, per compared field, log2(m/u) of the agreement level the pair shows,
where m = P(level | same person) and u = P(level | different people). Splink
(https://github.com/moj-analytical-services/splink, MIT) builds the comparison SQL and
scores the pairs in an in-memory DuckDB; the archive stays the only database file.

Why fixed m/u probabilities and not EM training: an archive's patient table is small at first
and its true-link rate is tiny, so expectation-maximisation would be unstable exactly where a
false link is most harmful; and the values are few and explainable. They are set from the
structure of the data rather than fitted:

* birth date (exact): m = 0.98 (registration typos are rare), u = 1 / 30,000 (birth dates
  spread over ~80 years);
* sex: m = 0.98, u = 0.5 when equal; m = 0.01, u = 0.5 when both are known and differ;
* name, in order of decreasing specificity: identical (m 0.80, u 5e-5); same family and first
  given name, middle name missing or different (m 0.08, u 1e-5); the same words in another
  order, one side possibly lacking some, e.g. swapped family and given names (m 0.05,
  u 1e-6; at least two shared words); a spelling variant with
  Jaro-Winkler >= 0.9 on both family and given name (m 0.06, u 1e-4); family name only, given
  names differ (m 0.01, u 2e-3); anything else (m 0.01, u 0.998).

With the default prior of 1e-5 (``link_prior``) an identical name, birth date and sex gives a
probability of ~0.9999, a spelling variant ~0.997, while the family name alone stays ~0.7,
below the ``link_threshold`` of 0.99. Names are transliterated (ä -> AE, ß -> SS, accents
dropped) before comparison, so ``Müller`` and ``MUELLER`` are identical.

Blocking: only pairs with the same birth date are compared, and only pairs involving a new
record, so linkage grows with the new records, not the archive's square. A namesake with
another birth date is therefore never linked. Vetoes the model cannot express (its
fields are assumed independent, which twins violate) are applied on top: given names that
differ (a twin: same family name, birth date and often sex), both sexes known and different,
and two registrations at the same issuer unless the names agree (a hospital registers twins
under separate MRNs). Records without a birth date are never linked. A pair's reasons list
the agreement levels and vetoes, never a name, an ID or a date.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import polars as pl

from dedup.archive.db import Archive

_TRANSLIT = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "ä": "AE", "ö": "OE",
                           "ü": "UE", "Æ": "AE", "æ": "AE", "Ø": "OE", "ø": "OE", "Å": "AA",
                           "å": "AA", "Œ": "OE", "œ": "OE", "Ł": "L", "ł": "L"})

#: Name levels: (label, SQL condition, m, u). The null level comes first and is neutral.
#: Public because the pre-order check (:mod:`dedup.check.link`) applies the same model.
NAME_LEVELS: tuple[tuple[str, str, float, float], ...] = (
    ("identical", "fam_l = fam_r AND giv_l = giv_r AND mid_l = mid_r", 0.80, 5e-5),
    ("middle name missing or different", "fam_l = fam_r AND giv_l = giv_r", 0.08, 1e-5),
    ("same words, other order", "len(list_intersect(words_l, words_r)) >= 2 AND "
     "(list_has_all(words_l, words_r) OR list_has_all(words_r, words_l))", 0.05, 1e-6),
    ("spelling variant", "jaro_winkler_similarity(fam_l, fam_r) >= 0.9 AND "
     "jaro_winkler_similarity(giv_l, giv_r) >= 0.9", 0.06, 1e-4),
    ("family name only", "fam_l = fam_r", 0.01, 2e-3),
    ("different", "ELSE", 0.01, 0.998),
)
NAMES_AGREE = frozenset({"identical", "middle name missing or different",
                         "same words, other order"})
GIVEN_CONFLICT = frozenset({"family name only", "different"})
#: (m, u) when equal, for sex and birth date.
SEX_EQUAL = (0.98, 0.5)
BIRTH_EQUAL = (0.98, 1 / 30000)


@dataclass(frozen=True, slots=True)
class NameParts:
    """A person name normalised for comparison: upper-case ASCII words."""

    family: str
    given: str
    middle: str

    @property
    def words(self) -> list[str]:
        """All name words (family, given, middle)."""
        return [w for part in (self.family, self.given, self.middle) for w in part.split()]


def normalise_name(name: str | None) -> NameParts:
    """Split and normalise a DICOM PN (``FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX``).

    The first non-empty component group is used (alphabetic before ideographic). A name
    without ``^`` is taken as ``family given middle`` words.
    """
    group = next((g for g in (name or "").split("=") if g.strip("^ ")), "")
    plain = unicodedata.normalize("NFKD", group.translate(_TRANSLIT))
    plain = plain.encode("ascii", "ignore").decode().upper()
    parts = [" ".join(re.findall(r"[A-Z]+", p)) for p in plain.split("^")]
    if len(parts) == 1:
        words = parts[0].split()
        parts = [" ".join(words[:1]), " ".join(words[1:2]), " ".join(words[2:])]
    parts += ["", "", ""]
    given_words = f"{parts[1]} {parts[2]}".split()
    return NameParts(parts[0], " ".join(given_words[:1]), " ".join(given_words[1:]))


def features(patients: pl.DataFrame) -> pl.DataFrame:
    """Comparison columns for Splink from ``patient_key, issuer, name, birth_date, sex, is_new``.

    Returns:
        One row per patient: ``unique_id``, ``fam``, ``giv``, ``mid``, ``words``,
        ``birth_date`` (ISO text), ``sex`` (M/F or null), ``issuer``, ``is_new``.

    """
    names = [normalise_name(n) for n in patients["name"].to_list()]
    return pl.DataFrame({
        "unique_id": patients["patient_key"].cast(pl.Int64),
        "fam": [n.family or None for n in names],
        "giv": [n.given or None for n in names],
        "mid": [n.middle for n in names],
        "words": [n.words for n in names],
        "birth_date": patients["birth_date"].cast(pl.String),
        "sex": [s if s in ("M", "F") else None
                for s in patients["sex"].fill_null("").str.to_uppercase().to_list()],
        "issuer": patients["issuer"].cast(pl.String),
        "is_new": patients["is_new"].cast(pl.Boolean),
    }, schema_overrides={"words": pl.List(pl.String)})


def score_pairs(patients: pl.DataFrame, *, prior: float, threshold: float) -> pl.DataFrame:
    """Score every same-birth-date pair that involves a new record.

    Args:
        patients: ``patient_key, issuer, name, birth_date, sex, is_new``.
        prior: probability that two random records are the same person.
        threshold: least match probability to link.

    Returns:
        ``patient_key_a < patient_key_b, match_probability, match_weight, linked, reasons``
        (reasons as a JSON list).

    """
    schema = {"patient_key_a": pl.Int64, "patient_key_b": pl.Int64,
              "match_probability": pl.Float64, "match_weight": pl.Float64,
              "linked": pl.Boolean, "reasons": pl.String}
    table = features(patients.filter(pl.col("birth_date").is_not_null()))
    if not _has_blocked_pairs(table):  # Splink is not started for nothing to score
        return pl.DataFrame(schema=schema)
    scored = _predict(table, prior)
    rows = [_decide(row, threshold) for row in scored.iter_rows(named=True)]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _has_blocked_pairs(table: pl.DataFrame) -> bool:
    """Whether the blocking rule of :func:`_predict` makes any pair.

    It does where a birth date is shared by two records, one of them new.
    """
    shared = table.group_by("birth_date").agg(records=pl.len(), new=pl.col("is_new").any())
    return not shared.filter((pl.col("records") > 1) & pl.col("new")).is_empty()


def _predict(table: pl.DataFrame, prior: float) -> pl.DataFrame:
    """Run the Splink model over the records; one row per blocked pair."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator

    logging.getLogger("splink").setLevel(logging.WARNING)
    db_api = DuckDBAPI()
    frame = db_api.register(table.to_arrow(), table_name="patients_to_link")
    levels: list[Any] = [{"sql_condition": "fam_l IS NULL OR fam_r IS NULL",
                                        "label_for_charts": "unknown", "is_null_level": True}]
    levels += [{"sql_condition": sql, "label_for_charts": label}
               for label, sql, _, _ in NAME_LEVELS]
    name = cl.CustomComparison(levels, output_column_name="name").configure(
        m_probabilities=[m for *_, m, _ in NAME_LEVELS],
        u_probabilities=[u for *_, u in NAME_LEVELS])
    sex = cl.ExactMatch("sex").configure(m_probabilities=[SEX_EQUAL[0], 0.01],
                                         u_probabilities=[SEX_EQUAL[1], 0.5])
    birth = cl.ExactMatch("birth_date").configure(
        m_probabilities=[BIRTH_EQUAL[0], 1 - BIRTH_EQUAL[0]],
        u_probabilities=[BIRTH_EQUAL[1], 1 - BIRTH_EQUAL[1]])
    settings = SettingsCreator(
        link_type="dedupe_only", comparisons=[name, sex, birth],
        blocking_rules_to_generate_predictions=[
            "l.birth_date = r.birth_date AND (l.is_new OR r.is_new)"],  # type: ignore[list-item]
        probability_two_random_records_match=prior,
        additional_columns_to_retain=["issuer"])
    linker = Linker(frame, settings, log_level=None)
    result = linker.inference.predict().as_duckdbpyrelation().pl()
    return result.with_columns(pl.col("gamma_name").replace_strict(
        {-1: "unknown", **{len(NAME_LEVELS) - 1 - i: label
                           for i, (label, *_) in enumerate(NAME_LEVELS)}},
        return_dtype=pl.String).alias("name_level"))


def _decide(row: dict[str, Any], threshold: float) -> tuple[object, ...]:
    """Apply the threshold and the vetoes to one scored pair."""
    level = str(row["name_level"])
    reasons = ["birth date equal", f"name: {level}"]
    reasons.append({1: "sex equal", 0: "sex differs"}.get(int(row["gamma_sex"]),
                                                           "sex unknown"))
    vetoes = []
    if level in GIVEN_CONFLICT or level == "unknown":
        vetoes.append("veto: given names differ (possible twin)")
    if int(row["gamma_sex"]) == 0:
        vetoes.append("veto: sex differs")
    if row["issuer_l"] == row["issuer_r"] and level not in NAMES_AGREE:
        vetoes.append("veto: two registrations at one issuer with differing names")
    probability = float(row["match_probability"])
    linked = probability >= threshold and not vetoes
    a, b = sorted((int(row["unique_id_l"]), int(row["unique_id_r"])))
    return (a, b, probability, float(row["match_weight"]), linked,
            json.dumps(reasons + vetoes))


def link_new_patients(archive: Archive, *, prior: float, threshold: float,
                      run_id: int | None = None) -> int:
    """Compare every patient record not linked yet with the records sharing its birth date.

    Stores each compared pair in ``patient_links`` (linked or not, with reasons) and marks the
    new records in ``linked_patients``. Runs in one transaction.

    Returns:
        The number of new linked pairs.

    """
    patients = archive.run("patients_to_link")
    new_keys = patients.filter(pl.col("is_new"))["patient_key"]
    if new_keys.is_empty():
        return 0
    pairs = score_pairs(patients, prior=prior, threshold=threshold)
    run = pl.lit(run_id, pl.Int64)
    with archive.registered(scored_pairs=pairs.with_columns(run_id=run),
                            new_patients=pl.DataFrame({"patient_key": new_keys}
                                                      ).with_columns(run_id=run)), \
            archive.transaction():
        archive.script("store_patient_links")
    return int(pairs["linked"].sum())
