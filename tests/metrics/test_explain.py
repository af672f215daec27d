"""dedup.metrics.explain: each figure in plain words, with the values and sources in force."""

from __future__ import annotations

import pytest

from dedup import metrics
from dedup.config import Settings
from dedup.metrics.costs import load_cost_model

GERMAN = Settings(exam_costs="shipped:exam_costs_de_goae.csv",
                  storage_costs="shipped:storage_costs_de.csv")


@pytest.mark.parametrize(("source", "name"), [
    ("Amazon S3 Standard storage, first 50 TB per month: https://aws.amazon.com/s3/pricing/",
     "Amazon S3 Standard storage"),
    ("CMS Medicare Physician Fee Schedule CY2026 as transcribed at https://x.org/70450; check",
     "CMS Medicare Physician Fee Schedule CY2026"),
    ("42 CFR 482.26(d)(2), Medicare Conditions of Participation", "42 CFR 482.26(d)(2)"),
    ("Gebührenordnung für Ärzte (GOÄ), section O I, No. 5371, as transcribed at https://e",
     "Gebührenordnung für Ärzte (GOÄ)"),
    ("what-if input on the dashboard (the reference file is unchanged) (x1.5 of the reference "
     "value); was: CMS", "what-if input on the dashboard (the reference file is unchanged)"),
    ("no ionizing radiation", "no ionizing radiation"),
])
def test_a_source_is_named_without_its_details(source: str, name: str) -> None:
    assert metrics.short_source(source) == name


def test_kpi_help_names_the_values_and_sources_in_force() -> None:
    helps = metrics.kpi_help(load_cost_model(Settings()))
    assert list(helps) == ["Avoided repeats", "Estimated savings", "Storage reclaimable",
                           "Dose avoided"]
    savings = helps["Estimated savings"]
    for part in ("USD 34 to USD 300 per exam for 9 procedure families",
                 "CMS Medicare Physician Fee Schedule CY2026 for 7 of 9 rows",
                 "USD 0.023 per GB-month for 5 years", "Amazon S3 Standard storage",
                 "42 CFR 482.26(d)(2)"):
        assert part in savings
    assert "withdrawn" in helps["Avoided repeats"]
    assert "GB of 1,073,741,824 bytes" in helps["Storage reclaimable"]
    assert "0.005 to 14 mSv per exam (Mettler et al." in helps["Dose avoided"]
    for text in helps.values():  # plain words: no file, column or query names
        assert not any(word in text for word in (".csv", "metric_", "cost_usd", "_per_"))


def test_kpi_help_follows_the_site_and_the_what_if() -> None:
    german = metrics.kpi_help(load_cost_model(GERMAN))["Estimated savings"]
    for part in ("EUR 199 to EUR 441 per exam for 5 procedure families "
                 "(Gebührenordnung für Ärzte (GOÄ))", "EUR 0.0049 per GB-month for 10 years",
                 "Hetzner Object Storage", "Strahlenschutzgesetz (StrlSchG) §85(2)"):
        assert part in german
    doubled = load_cost_model(Settings()).what_if(exam_cost_scale=2, price_per_gb_month=0.05)
    what_if = metrics.kpi_help(doubled)["Estimated savings"]
    assert "USD 68 to USD 601 per exam" in what_if
    assert "(what-if input on the dashboard (the reference file is unchanged))" in what_if
    assert "USD 0.05 per GB-month for 5 years (what-if input" in what_if


def test_storage_assumptions_show_values_then_sources() -> None:
    table = metrics.storage_assumptions(load_cost_model(GERMAN))
    assert table.columns == ["assumption", "value", "source", "retrieved"]
    rows = {row[0]: row[1:] for row in table.iter_rows()}
    assert rows["Storage price"][0] == "EUR 0.0049 per GB-month"
    assert rows["Retention"][0] == "10 years" and "§85" in rows["Retention"][1]
    assert rows["Bytes per GB"][0] == "1,000,000,000"
    assert rows["Cost of keeping 1 GB"][0] == "EUR 0.59 (EUR 0.0049 x 12 x 10)"
