"""judge(): labelled duplicates against the rows a matcher wrote, copies inside one study too."""

from __future__ import annotations

from dedup.evaluate import judge
from dedup.synth import Label

ARCHIVED = {"A", "B", "C", "D"}


def test_a_pair_flagged_with_several_kinds_is_found_for_each_labelled_kind() -> None:
    # A re-sent whole (exact) and new instances of A under its Study UID (same-content).
    labels = [Label("A", "exact", "A", "re-sent"), Label("B", "same-content", "B", "re-UIDed")]
    rows = [("A", "A", "exact"), ("A", "A", "same-content"), ("B", "B", "exact"),
            ("B", "B", "same-content")]
    results, flags = judge(labels, rows, ARCHIVED)
    assert results == [("exact", "exact"), ("same-content", "same-content")]
    assert flags == 0


def test_a_duplicate_inside_a_study_flagged_with_other_kinds_is_the_strongest_of_them() -> None:
    labels = [Label("A", "near", "A", "lossy, same SOP UIDs")]
    results, _ = judge(labels, [("A", "A", "partial"), ("A", "A", "same-content")], ARCHIVED)
    assert results == [("near", "same-content")]


def test_a_duplicate_inside_a_study_is_not_credited_with_flags_against_other_studies() -> None:
    labels = [Label("A", "same-content", "A", "new SOP UIDs")]
    results, flags = judge(labels, [("A", "B", "near")], ARCHIVED)
    assert results == [("same-content", "none")]
    assert flags == 1  # A and B are both archived: a false flag


def test_a_copy_under_new_uids_keeps_its_fallback_to_any_archived_study() -> None:
    labels = [Label("X", "same-content", "A", "re-identified"),
              Label("Y", "near", "B", "lossy")]
    rows = [("X", "C", "near"), ("X", "D", "partial"), ("Y", "B", "near"), ("Y", "B", "exact")]
    results, _ = judge(labels, rows, ARCHIVED)
    assert results == [("same-content", "partial"), ("near", "near")]


def test_unclaimed_flags_of_an_archived_study_with_itself_are_false() -> None:
    labels = [Label("A", "exact", "A", "re-sent")]
    rows = [("A", "A", "exact"), ("A", "A", "near"), ("C", "C", "same-content"),
            ("X", "X", "same-content")]  # X is not archived: no archive flag
    _, flags = judge(labels, rows, ARCHIVED)
    assert flags == 1


def test_a_negative_is_flagged_by_any_row_naming_it_itself_included() -> None:
    labels = [Label("N", "negative", None, "new patient"), Label("M", "negative", None, "twin")]
    results, _ = judge(labels, [("N", "N", "same-content"), ("M", "A", "repeat")], ARCHIVED)
    assert results == [("negative", "same-content"), ("negative", "repeat")]
