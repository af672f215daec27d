"""`dedup nightly` with a DICOMweb source over a real Orthanc finds a copy uploaded to it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nightly_support import archive_rows, cli_env, nightly_cli
from tests.pacs import PASSWORD_ENV, USER, OrthancServer, write_studies


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OrthancServer]:
    pacs = OrthancServer(tmp_path / "orthanc", dicomweb=True).start()
    yield pacs
    pacs.stop(kill=True)


def third_party_copy(study: Path, out: Path) -> Path:
    """``study`` transcoded to lossless JPEG-LS by GDCM, re-UID'd by DCMTK (one new study)."""
    shutil.copytree(study, out)
    new_study = "1.2.826.0.1.3680043.8.498.4242"
    for n, series in enumerate(sorted({p.parent for p in out.rglob("*.dcm")}), 1):
        for path in sorted(series.glob("*.dcm")):
            subprocess.run(["gdcmconv", "--jpegls", str(path), str(path)], check=True)
            subprocess.run(["dcmodify", "-nb", "-gin", "-m", f"StudyInstanceUID={new_study}",
                            "-m", f"SeriesInstanceUID={new_study}.{n}", str(path)],
                           check=True, capture_output=True)
    return out


def write_config(run_dir: Path, url: str) -> Path:
    run_dir.mkdir(parents=True)
    path = run_dir / "dedup.toml"
    path.write_text("\n".join([
        'archive = "out/archive.duckdb"', "workers = 1", "batch_files = 8",
        "[[sources]]", 'name = "pacs"', 'type = "dicomweb"', f'url = "{url}"',
        f'username = "{USER}"', f'password_env = "{PASSWORD_ENV}"', "timeout = 5.0",
        "retries = 3", "backoff = 0.02", "page_size = 10"]) + "\n")
    return path


def test_nightly_pulls_over_dicomweb_and_finds_the_copy(server: OrthancServer,
                                                        tmp_path: Path) -> None:
    [study] = write_studies(tmp_path / "studies", 1, seed=700)
    server.upload(study)
    config = write_config(tmp_path / "run", f"{server.url}/dicom-web")
    code, report, err = nightly_cli(config, env=cli_env())
    assert code == 0, err
    assert report and report["sources"][0]["pull"]["fetched"] == 6
    assert not archive_rows(tmp_path / "run").get("duplicates")

    server.upload(third_party_copy(study, tmp_path / "copy"))
    code, report, err = nightly_cli(config, env=cli_env())
    assert code == 0, err
    assert report and report["sources"][0]["pull"]["fetched"] == 6  # only the copy
    assert report["index"]["instances"] == 6
    rows = archive_rows(tmp_path / "run")["duplicates"]
    assert [(r[0], r[2]) for r in rows] == [("1.2.826.0.1.3680043.8.498.4242", "same-content")]
