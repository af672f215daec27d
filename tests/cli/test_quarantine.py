"""``dedup quarantine``: file names chosen by whoever made the input cannot drive the terminal."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.conftest import dedup_cli

#: Names that would retitle the window, clear the screen, ring the bell, reorder the text,
#: forge a line or break Rich's markup if printed raw.
HOSTILE = ["\x1b]0;owned\x07.dcm", "\x1b[2Jclear.dcm", "bidi\u202egpj.dcm",
           "line\nFORGED ENTRY.dcm", "[red]markup[bold].dcm", "tab\there.dcm"]
RAW = ("\x1b", "\x07", "\u202e", "\nFORGED", "\t")


def test_hostile_file_names_are_listed_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in HOSTILE:
        (folder / name).write_bytes(b"not an image")
    archive = str(tmp_path / "a.duckdb")
    index = dedup_cli("index", str(folder), "--archive", archive, check=False)
    assert index.returncode == 4  # nothing could be indexed
    env = {"COLUMNS": "400"}
    table = dedup_cli("quarantine", "--archive", archive, env=env).stdout
    for raw in RAW:
        assert raw not in table and raw not in index.stderr + index.stdout
    for shown in ("\\x1b]0;owned\\x07.dcm", "\\x1b[2Jclear.dcm", "bidi\\u202egpj.dcm",
                  "line\\x0aFORGED ENTRY.dcm", "[red]markup[bold].dcm", "tab\\x09here.dcm"):
        assert shown in table
    exact = dedup_cli("quarantine", "--archive", archive, "--format", "csv", env=env).stdout
    listed = {Path(row["location"]).name for row in csv.DictReader(io.StringIO(exact))}
    assert listed == set(HOSTILE)  # a pipe or file gets the exact names
