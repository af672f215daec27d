"""Matching: classify studies against the archive, link patients, normalise procedures.

Kinds: exact, same-content, partial, near and repeat duplicates (DESIGN.md's vocabulary).

Entry point: :func:`match`. The parts:
:mod:`~dedup.match.candidates` (band, shared-pixel and repeat joins),
:mod:`~dedup.match.verify` (exact set overlap, acquisition signatures),
:mod:`~dedup.match.linkage` (Fellegi-Sunter patient linkage with Splink),
:mod:`~dedup.match.procedures` (procedure families), :mod:`~dedup.match.classify` (kinds).
"""

from dedup.match.linkage import normalise_name, score_pairs
from dedup.match.procedures import classify_procedure, load_mapping, unknown_procedures
from dedup.match.run import MatchSummary, match

__all__ = ["MatchSummary", "classify_procedure", "load_mapping", "match", "normalise_name",
           "score_pairs", "unknown_procedures"]
