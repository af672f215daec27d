"""Plausible pre-order checks and outcomes for the demo archive (generated data only).

The check service logs real checks in a store it owns and the nightly batch folds them into
the ``checks`` and ``outcomes`` tables (``0004_checks.sql``). A freshly generated demo has
none, so its dashboard would show no avoided repeats. :func:`record_demo_checks` derives
rows from what the archive really holds, keeping to the 0004 columns only:

- every ``repeat`` pair: the check found the prior the day before the repeat, and the order
  went ahead (``ordered-anyway``), which is why the repeat exists;
- half of the other studies of a known family: a later order for the same patient and family
  at another institution, whose check found this study, and the order was ``withdrawn`` (an
  avoided repeat);
- the other half: the check made before the study itself, which found no prior.

Everything is derived from hashes of the study UIDs, so the same archive always gets the same
rows, and re-running inserts nothing new. Pseudonyms are hashes of surrogate keys, never PHI.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from dedup.archive.db import Archive, batch_lock
from dedup.archive.publish import publish

_CHANNELS = ("http", "cds-hooks", "cli")
_WINDOW_DAYS = 90


def record_demo_checks(archive: Archive) -> int:
    """Insert the demo's checks and outcomes into an open, writable archive.

    Returns:
        The number of checks now recorded by the demo (0 when the archive has no studies).

    """
    sources = archive.run("demo_check_sources")
    institutions = sorted({i for i in sources["institution"].to_list() if i})
    checks, outcomes = [], []
    for row in sources.iter_rows(named=True):
        check, outcome = _derive(row, institutions)
        checks.append(check)
        if outcome:
            outcomes.append(outcome)
    if not checks:
        return 0
    with archive.registered(
            demo_checks=pl.DataFrame(checks, schema=_CHECK_SCHEMA, orient="row"),
            demo_outcomes=pl.DataFrame(outcomes, schema=_OUTCOME_SCHEMA, orient="row")), \
            archive.transaction():
        archive.script("demo_checks_insert")
    return len(checks)


def add_demo_checks(archive_path: str | Path) -> int:
    """Record the demo checks in the archive at ``archive_path`` and publish a new snapshot.

    Raises:
        ArchiveLocked: a batch run holds the archive.

    """
    with batch_lock(archive_path), Archive.open(archive_path) as archive:
        count = record_demo_checks(archive)
        publish(archive)
    return count


def _derive(row: dict[str, Any], institutions: list[str]
            ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    digest = int(hashlib.sha256(row["study_uid"].encode()).hexdigest()[:12], 16)
    study_date: date = row["study_date"]
    if row["source"] == "repeat":
        kind, order_date, n_priors, outcome = "repeat", study_date, 1, "ordered-anyway"
        institution = row["institution"]
    elif digest % 2 and study_date + timedelta(days=14 + digest % 60) <= date.today():
        kind, n_priors, outcome = "avoided", 1, "withdrawn"  # never an order in the future
        order_date = study_date + timedelta(days=14 + digest % 60)
        institution = _other(institutions, row["institution"], digest)
    else:
        kind, order_date, n_priors, outcome = "first", study_date, 0, None
        institution = row["institution"]
    asked = datetime.combine(order_date - timedelta(days=1), time(8)) + timedelta(
        minutes=digest % 540)
    check = {
        "check_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"dedup-demo:{kind}:{row['study_uid']}")),
        "asked_at": asked, "client": "demo", "channel": _CHANNELS[digest % len(_CHANNELS)],
        "patient_pseudonym": hashlib.sha256(f"demo:{row['patient_key']}".encode()).hexdigest(),
        "family": row["family"], "modality": row["family"].split(" ", 1)[0],
        "order_date": order_date, "within_days": _WINDOW_DAYS, "institution": institution,
        "n_priors": n_priors,
        "prior_study_uids": json.dumps([row["prior_uid"]] if n_priors else []),
        "recommendation": "prior-found" if n_priors else "no-prior",
        "latency_ms": float(20 + digest % 80),
    }
    if outcome is None:
        return check, None
    return check, {"check_id": check["check_id"],
                   "decided_at": asked + timedelta(minutes=5 + digest % 40),
                   "outcome": outcome,
                   "reason": "clinical change since the prior" if kind == "repeat" else None,
                   "client": "demo", "channel": check["channel"]}


def _other(institutions: list[str], current: str | None, digest: int) -> str | None:
    others = [i for i in institutions if i != current]
    return others[digest % len(others)] if others else current


_CHECK_SCHEMA: dict[str, Any] = {
    "check_id": pl.String, "asked_at": pl.Datetime("us"), "client": pl.String,
    "channel": pl.String, "patient_pseudonym": pl.String, "family": pl.String,
    "modality": pl.String, "order_date": pl.Date, "within_days": pl.Int32,
    "institution": pl.String, "n_priors": pl.Int32, "prior_study_uids": pl.String,
    "recommendation": pl.String, "latency_ms": pl.Float64,
}
_OUTCOME_SCHEMA: dict[str, Any] = {
    "check_id": pl.String, "decided_at": pl.Datetime("us"), "outcome": pl.String,
    "reason": pl.String, "client": pl.String, "channel": pl.String,
}
