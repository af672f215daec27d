"""`dedup index` over input that once stopped the whole run: every such input is quarantined
with its reason (a loop once), nothing outside the roots is read, and the run goes on."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pydicom

from dedup.synth import write_dicomdir
from tests.conftest import index_json, synthetic_study


def test_hostile_input_is_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    folder, secret_dir = tmp_path / "in", tmp_path / "secret"
    good = synthetic_study(folder / "plain", seed=21)
    secret = synthetic_study(secret_dir, seed=22)[0]
    synthetic_study(folder / "cd", seed=23)
    write_dicomdir(folder / "cd")
    dicomdir = pydicom.dcmread(folder / "cd" / "DICOMDIR")
    records = [r for r in dicomdir.DirectoryRecordSequence if "ReferencedFileID" in r]
    records[0].ReferencedFileID = ["..", "..", "secret", *secret.relative_to(secret_dir).parts]
    records[1].ReferencedFileID = [str(secret)]
    dicomdir.save_as(folder / "cd" / "DICOMDIR")
    on_cd = sorted((folder / "cd" / "PT000000").rglob("IM*"))[2:]
    os.mkfifo(folder / "pipe.dcm")
    (folder / "loop").symlink_to("loop")
    (folder / "plain" / "up").symlink_to("..")
    (folder / "secret.dcm").symlink_to(secret)
    shutil.copy(good[0], os.fsdecode(os.fsencode(folder) + b"/latin1-\xe9.dcm"))
    summary = index_json(str(folder), "/dev/zero", str(folder / "pipe.dcm"), "--archive",
                         str(tmp_path / "a.duckdb"), timeout=300)
    with duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT location, reason, detail FROM quarantine").fetchall()
        read = {r[0] for r in con.execute("SELECT location FROM instances").fetchall()}
    quarantine = {Path(location).name: reason for location, reason, _ in rows}
    assert quarantine == {"pipe.dcm": "not-a-file", "zero": "not-a-file", "loop": "unreadable",
                          "up": "unreadable", "secret.dcm": "outside-source",
                          "latin1-\\xe9.dcm": "unreadable",
                          secret.name: "outside-source"}  # both DICOMDIR references
    assert len(rows) == 8 and summary["quarantined"] == 9  # the FIFO met twice, one row
    assert read == {str(p) for p in good} | {str(p) for p in on_cd}
    assert not any(str(secret_dir) in location for location in read)
