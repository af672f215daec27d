"""Each failure class of issue 10, with copies made by third-party tools, and hard negatives.

The copies are made by dicognito (re-identification: new UIDs, another name, dates and times
shifted), GDCM and DCMTK (lossy transcodes, half size), never by dedup's own writer.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dedup.archive.db import Archive
from dedup.batch import index
from dedup.config import Settings
from dedup.fingerprint.instance import fingerprint_location
from dedup.records import Instance, Location
from dedup.synth import Patient, write_study
from dedup.synth.copies import anonymise, missing_tools, transcode
from dedup.synth.images import _acquisition
from dedup.synth.population import make_population

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason="make test installs the tools")

ANNA = Patient("NOVAK^ANNA", "SM0000101", "STMARY", date(1970, 1, 1), "F", 101)
TWIN = Patient("NOVAK^ANNE", "SM0000102", "STMARY", date(1970, 1, 1), "F", 102)


def study(out: Path, modality: str, patient: Patient, seed: int, day: date = date(2024, 3, 1),
          slices: int = 2) -> tuple[str, Path]:
    uid = write_study(out, modality=modality, patient=patient, seed=seed, study_date=day,
                      institution="St. Mary Hospital", slices=slices)
    return uid, next(p for p in out.iterdir() if p.is_dir())


def pairs(settings: Settings, *batches: Path) -> dict[frozenset[str], str]:
    """Index each folder as one nightly run; every (study pair) -> kind."""
    for batch in batches:
        index([batch], settings)
    with Archive.open(settings.archive, read_only=True) as archive:
        rows = archive.run("duplicate_pairs").iter_rows()
        return {frozenset((a, b)): kind for a, b, kind in rows}


def test_one_series_of_three_under_new_uids_is_partial(tmp_path: Path,
                                                       settings: Settings) -> None:
    uid, folder = study(tmp_path / "archive", "CT", ANNA, 1)
    shutil.copytree(folder / "2", tmp_path / "subset" / "2")
    copy = anonymise(tmp_path / "subset", tmp_path / "incoming" / "copy", "one-of-three")
    found = pairs(settings, tmp_path / "archive", tmp_path / "incoming")
    assert found == {frozenset((uid, copy)): "partial"}


@pytest.mark.parametrize(("modality", "tool"), [
    ("CT", ["gdcmconv", "--j2k", "--lossy", "-r", "20"]),
    ("MR", ["dcmcjpeg", "+ee", "+q", "50"]),
    ("DX", ["dcmcjpeg", "+eb", "+be", "+q", "50"]),
    ("CT", ["dcmscale", "--scale-x-factor", "0.5", "--scale-y-factor", "0.5"]),
])
def test_lossy_reidentified_date_shifted_copy_is_near(tmp_path: Path, settings: Settings,
                                                      modality: str, tool: list[str]) -> None:
    uid, folder = study(tmp_path / "archive", modality, ANNA, 2)
    copy = anonymise(folder, tmp_path / "anonymised", f"shift-{modality}")
    transcode(tmp_path / "anonymised", tmp_path / "incoming" / "copy", tool)
    found = pairs(settings, tmp_path / "archive", tmp_path / "incoming")
    assert found == {frozenset((uid, copy)): "near"}


def close_retake(seed: int) -> int:
    """An acquisition seed that lays the patient 0.1 to 0.3 mm from where ``seed`` did."""
    origin = np.array(_acquisition(seed, "St. Mary Hospital").shift)
    return next(other for other in range(seed + 1, seed + 100_000) if 0.1 <= float(np.hypot(
        *(np.array(_acquisition(other, "St. Mary Hospital").shift) - origin))) <= 0.3)


@pytest.mark.parametrize(("modality", "tool"), [
    ("DX", ["dcmcjpeg", "+eb", "+be", "+q", "50"]),  # 12 to 8 bits: the noise is gone
    ("CT", ["dcmcjpeg", "+eb", "+be", "+q", "50"]),
    ("MR", ["dcmcjpeg", "+eb", "+Wi", "1", "+q", "90"]),  # the file's VOI window, 8 bits
])
def test_an_8_bit_or_windowed_copy_is_near_and_a_close_retake_is_not(
        tmp_path: Path, settings: Settings, modality: str, tool: list[str]) -> None:
    uid, folder = study(tmp_path / "archive", modality, ANNA, 1)
    retake, _ = study(tmp_path / "retake", modality, ANNA, close_retake(1))
    copy = anonymise(folder, tmp_path / "anonymised", f"bits-{modality}")
    transcode(tmp_path / "anonymised", tmp_path / "incoming" / "copy", tool)
    found = pairs(settings, tmp_path / "archive", tmp_path / "retake", tmp_path / "incoming")
    assert found[frozenset((uid, copy))] == "near"
    assert {kind for pair, kind in found.items() if retake in pair} <= {"repeat"}


@pytest.mark.parametrize("modality", ["CT", "MR", "DX", "US"])
def test_a_twin_and_a_same_day_rescan_are_never_copies(tmp_path: Path, settings: Settings,
                                                       modality: str) -> None:
    first, _ = study(tmp_path / "archive", modality, ANNA, 3)
    again, _ = study(tmp_path / "incoming", modality, ANNA, 4)  # the same person, same day
    twin, _ = study(tmp_path / "incoming", modality, TWIN, 5)  # same surname, birth, protocol
    found = pairs(settings, tmp_path / "archive", tmp_path / "incoming")
    assert set(found.values()) <= {"repeat"}
    assert frozenset((first, twin)) not in found and frozenset((again, twin)) not in found


def test_a_population_without_duplicates_has_no_flag_but_repeat(tmp_path: Path,
                                                                settings: Settings) -> None:
    made = make_population(tmp_path / "population", patients=24, studies=60, slices=1, seed=3)
    folders = sorted(p for p in made.root.iterdir() if p.is_dir())
    for batch in (folders[:40], folders[40:]):
        index(batch, settings)
    with Archive.open(settings.archive, read_only=True) as archive:
        kinds = Counter(kind for _, _, kind in archive.run("duplicate_pairs").iter_rows())
    assert set(kinds) <= {"repeat"}, kinds


@pytest.mark.parametrize("name", ["JPEG2000.dcm", "693_J2KI.dcm"])
def test_a_real_image_whose_noise_jpeg_removed_is_near_by_its_exposure_record(
        tmp_path: Path, settings: Settings, name: str) -> None:
    """pydicom's NM and CT, re-identified by dicognito and cut to 8 bits at JPEG q50 by DCMTK.

    The NM image's counting noise is gone (structure 0.87) and the CT's coarse content moved
    by 9e-4: only the exposure record (table height, position, counts or dose) and the
    lossy re-encoding tell these copies from a scan of the same person.
    """
    archived = tmp_path / "archive" / "study"
    archived.mkdir(parents=True)
    shutil.copyfile(str(get_testdata_file(name)), archived / "1.dcm")
    uid = str(pydicom.dcmread(archived / "1.dcm", stop_before_pixels=True).StudyInstanceUID)
    copy = anonymise(archived, tmp_path / "anonymised", f"record-{name}")
    transcode(tmp_path / "anonymised", tmp_path / "raw", ["gdcmconv", "--raw"])
    transcode(tmp_path / "raw", tmp_path / "incoming" / "copy", ["dcmcjpeg", "+eb", "+q", "50"])
    found = pairs(settings, tmp_path / "archive", tmp_path / "incoming")
    assert found == {frozenset((uid, copy)): "near"}


def _stamp(folder: Path, like: Path) -> None:
    """Give every image of ``folder`` the placement and dose of ``like``'s with DCMTK."""
    for path, model in zip(sorted(folder.rglob("*.dcm")), sorted(like.rglob("*.dcm")),
                           strict=True):
        ds = pydicom.dcmread(model, stop_before_pixels=True)
        values = {"(0018,1130)": "152.5", "(0018,1152)": "200", "(0018,1151)": "250"}
        if "ImagePositionPatient" in ds:
            values |= {"(0020,0032)": "\\".join(map(str, ds.ImagePositionPatient)),
                       "(0020,1041)": str(ds.SliceLocation)}
        args = [arg for tag, value in values.items() for arg in ("-i", f"{tag}={value}")]
        subprocess.run(["dcmodify", "-nb", *args, str(path)], check=True, capture_output=True)


@pytest.mark.parametrize("modality", ["CT", "DX"])
@pytest.mark.parametrize("stored", ["native", "jpeg2000-20to1"])
def test_a_scan_repeated_on_the_spot_is_not_a_copy_though_its_record_is_the_same(
        tmp_path: Path, settings: Settings, modality: str, stored: str) -> None:
    """The same person rescanned at once, 0.1 to 0.3 mm away: same table, dose, positions.

    Both acquisitions are stored alike (as the modality sent them, or both by one lossy
    codec, as a PACS that compresses everything does): the shared record is no evidence
    then, and the pixels alone say these are two acquisitions.
    """
    scans = tmp_path / "scans"
    study(scans / "first", modality, ANNA, 3)
    study(scans / "again", modality, ANNA, close_retake(3))
    for side in ("first", "again"):
        _stamp(scans / side, scans / "first")
    if stored == "native":
        shutil.copytree(scans / "first", tmp_path / "archive")
        shutil.copytree(scans / "again", tmp_path / "incoming")
    else:
        tool = ["gdcmconv", "--j2k", "--lossy", "-r", "20"]
        transcode(scans / "first", tmp_path / "archive", tool)
        transcode(scans / "again", tmp_path / "incoming", tool)
    archived, incoming = (fingerprint_location(Location(str(
        min((tmp_path / side).rglob("*.dcm")))), settings) for side in ("archive", "incoming"))
    assert isinstance(archived, Instance) and isinstance(incoming, Instance)
    assert archived.detail and incoming.detail and archived.detail[-9:] == incoming.detail[-9:]
    found = pairs(settings, tmp_path / "archive", tmp_path / "incoming")
    assert set(found.values()) <= {"repeat"}, found
