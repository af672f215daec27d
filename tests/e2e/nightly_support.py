"""Helpers for the nightly end-to-end tests: configs, CLI runs, archive comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from tests.conftest import REPO
from tests.pacs import PASSWORD, PASSWORD_ENV, USER

ARCHIVE = "out/archive.duckdb"


def write_config(run_dir: Path, *, pacs_url: str | None = None, folders: tuple[Path, ...] = (),
                 **settings: Any) -> Path:
    """A config for ``run_dir`` with one Orthanc source (if given) then the folders."""
    run_dir.mkdir(parents=True, exist_ok=True)
    values = {"archive": ARCHIVE, "workers": 1, "batch_files": 8} | settings
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    if pacs_url:
        lines += ["[[sources]]", 'name = "pacs"', 'type = "orthanc"', f'url = "{pacs_url}"',
                  f'username = "{USER}"', f'password_env = "{PASSWORD_ENV}"', "timeout = 2.0",
                  "retries = 3", "backoff = 0.02", "backoff_max = 0.1", "page_size = 10",
                  "max_failures = 3"]
    for n, folder in enumerate(folders):
        lines += ["[[sources]]", f'name = "folder{n}"', 'type = "folder"', f'path = "{folder}"']
    path = run_dir / "dedup.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(REPO), **extra}


def nightly_cli(config: Path, *, env: dict[str, str] | None = None, timeout: float = 120,
                preexec: Any = None) -> tuple[int, dict[str, Any] | None, str]:
    """Run ``dedup nightly --format json``; return (exit code, report or None, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "dedup", "nightly", "--config", str(config),
                           "--format", "json"], capture_output=True, text=True,
                          env=env or cli_env(), timeout=timeout, cwd=REPO,
                          preexec_fn=preexec)
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    return proc.returncode, report, proc.stderr


_QUERIES = {
    "patients": "SELECT issuer, patient_id FROM patients",
    "studies": "SELECT study_uid, n_series, n_instances, bytes, modalities FROM studies",
    "series": "SELECT series_uid, s.study_uid, x.n_instances FROM series x "
              "JOIN studies s USING (study_key)",
    "instances": "SELECT sop_uid, se.series_uid, st.study_uid, pixel_hash, detail, file_hash, "
                 "i.bytes, location FROM instances i JOIN series se USING (series_key) "
                 "JOIN studies st ON st.study_key = i.study_key",
    "files": "SELECT f.location, f.size, f.file_hash, f.status, i.sop_uid FROM files f "
             "LEFT JOIN instances i USING (instance_key)",
    "quarantine": "SELECT location, reason, detail FROM quarantine",
    "fingerprints": "SELECT s.study_uid, kind, signature FROM fingerprints "
                    "JOIN studies s USING (study_key)",
    "lsh_bands": "SELECT s.study_uid, kind, band, band_key FROM lsh_bands "
                 "JOIN studies s USING (study_key)",
    "duplicates": "SELECT study_uid, duplicate_of_study_uid, kind, round(score, 6), "
                  "bytes_reclaimable FROM duplicates",
}


def archive_rows(run_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Natural-key rows of every table that must not depend on how the run went.

    Locations inside ``run_dir`` (the spool) are made relative to it, so archives built in
    different folders compare equal.
    """
    con = duckdb.connect(str(run_dir / ARCHIVE), read_only=True)
    try:
        tables = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
        rows = {}
        for name, sql in _QUERIES.items():
            if name in tables:
                found = con.sql(sql).fetchall()
                rows[name] = sorted((tuple(_relative(v, run_dir) for v in r) for r in found),
                                    key=repr)
        return rows
    finally:
        con.close()


def content_rows(run_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """:func:`archive_rows` without what depends on the order inputs arrived in.

    When a source is only partly pulled, copies of the same instance can arrive in another
    order than in an undisturbed run: which copy is the instance's first location, and which
    study of a duplicate pair is the later one, then differ, but nothing may be missing or
    doubled.
    """
    rows = archive_rows(run_dir)
    rows["instances"] = sorted((r[:-1] for r in rows["instances"]), key=repr)
    rows["files"] = sorted(((*r[:3], r[3] == "quarantined", r[4]) for r in rows["files"]),
                           key=repr)
    if "duplicates" in rows:
        rows["duplicates"] = sorted(((*sorted(r[:2]), r[2]) for r in rows["duplicates"]),
                                    key=repr)
    return rows


def _relative(value: Any, run_dir: Path) -> Any:
    if isinstance(value, str) and value.startswith(str(run_dir)):
        return "<run>" + value[len(str(run_dir)):]
    return value


def consistency_problems(run_dir: Path) -> list[str]:
    """Invariants a committed archive always satisfies (an empty list when it does)."""
    con = duckdb.connect(str(run_dir / ARCHIVE), read_only=True)
    checks = {
        "study instance counts": "SELECT count(*) FROM studies s WHERE n_instances <> "
                                 "(SELECT count(*) FROM instances i WHERE i.study_key = "
                                 "s.study_key)",
        "series instance counts": "SELECT count(*) FROM series s WHERE n_instances <> "
                                  "(SELECT count(*) FROM instances i WHERE i.series_key = "
                                  "s.series_key)",
        "instances without a file": "SELECT count(*) FROM instances i WHERE NOT EXISTS "
                                    "(SELECT 1 FROM files f WHERE f.instance_key = "
                                    "i.instance_key AND f.status = 'indexed')",
        "files without an instance": "SELECT count(*) FROM files f WHERE f.status <> "
                                     "'quarantined' AND f.instance_key NOT IN "
                                     "(SELECT instance_key FROM instances)",
        "studies without signatures": "SELECT count(*) FROM studies s WHERE NOT EXISTS "
                                      "(SELECT 1 FROM fingerprints f WHERE f.study_key = "
                                      "s.study_key)",
    }
    try:
        return [name for name, sql in checks.items() if con.sql(sql).fetchall() != [(0,)]]
    finally:
        con.close()


def count(run_dir: Path, table: str) -> int:
    """Rows of ``table`` (0 when a killed run left no archive or no schema yet)."""
    if not (run_dir / ARCHIVE).exists():
        return 0
    con = duckdb.connect(str(run_dir / ARCHIVE), read_only=True)
    try:
        exists = con.sql("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                         params=[table]).fetchall()[0][0]
        return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]) if exists else 0
    finally:
        con.close()
