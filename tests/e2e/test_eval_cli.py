"""``dedup eval``: the labelled evaluation as a command."""

from __future__ import annotations

import json

from dedup.evaluate import KINDS
from tests.conftest import dedup_cli


def test_eval_prints_metrics_per_kind_as_json() -> None:
    proc = dedup_cli("eval", "--seeds", "1", "--patients", "1", "--ct-slices", "1",
                     "--no-third-party", "--format", "json")
    result = json.loads(proc.stdout)
    assert list(result["kinds"]) == list(KINDS)
    assert result["labelled"] == sum(sum(row.values()) for row in result["confusion"].values())
    for kind in KINDS:
        assert set(result["kinds"][kind]) == {"labelled", "predicted", "true_positives",
                                              "precision", "recall", "f1", "precision_ci95",
                                              "recall_ci95"}
        low, high = result["kinds"][kind]["recall_ci95"]
        assert low <= result["kinds"][kind]["recall"] <= high
    assert result["missed_targets"] == [] and result["false_repeats"] == 0
    assert len(result["labels"]) == result["labelled"] and result["skipped_copies"] == []
    assert {label["kind"] for label in result["labels"]} == {*KINDS, "negative"}
