"""dedup.ingest.sources: what a walk of folders, zips and DICOMDIR media yields, in what order."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from dedup.ingest.sources import walk
from dedup.records import Location, Quarantined, QuarantineReason
from dedup.synth import write_dicomdir, zip_study
from tests.conftest import synthetic_study


def locations(*paths: Path) -> list[Location]:
    found = list(walk(paths))
    assert all(isinstance(item, Location) for item in found), found
    return found  # type: ignore[return-value]


def quarantined(*paths: Path) -> list[Quarantined]:
    return [item for item in walk(paths) if isinstance(item, Quarantined)]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated study folder (three series of two files)."""
    root = tmp_path_factory.mktemp("study")
    synthetic_study(root, seed=5)
    (folder,) = root.iterdir()
    return folder


def test_folder_walk_is_sorted_whatever_the_creation_order(tmp_path: Path) -> None:
    names = ["c/x.dcm", "b.dcm", "a/z.dcm", "a/y.dcm", "A.dcm", "a/sub/w.dcm", "10.dcm", "9.dcm"]
    for name in names:  # created in this (unsorted) order
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(name.encode())
    found = locations(tmp_path)
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in found] == [
        "10.dcm", "9.dcm", "A.dcm", "a/sub/w.dcm", "a/y.dcm", "a/z.dcm", "b.dcm", "c/x.dcm"]
    for item in found:
        stat = Path(item.path).stat()
        assert (item.member, item.size, item.mtime) == (None, stat.st_size, stat.st_mtime)


def test_walk_keeps_the_order_of_its_arguments(study: Path, tmp_path: Path) -> None:
    series = sorted(p for p in study.iterdir())
    assert [Path(f.path).parent for f in locations(*reversed(series))] == [
        s for s in reversed(series) for _ in s.iterdir()]
    single = next(series[0].iterdir())
    assert [f.path for f in locations(single)] == [str(single)]


def test_zip_members_are_listed_sorted_without_the_media_index(study: Path,
                                                               tmp_path: Path) -> None:
    archive = tmp_path / "cd.zip"
    zip_study(study, archive)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(f"{study.name}/DICOMDIR", b"index")
        zf.writestr("aaa/", b"")  # a folder entry
    found = locations(archive)
    expected = sorted(p.relative_to(study.parent).as_posix() for p in study.rglob("*.dcm"))
    assert [f.member for f in found] == expected
    assert {f.path for f in found} == {str(archive)}
    with zipfile.ZipFile(archive) as zf:
        assert [f.size for f in found] == [zf.getinfo(m).file_size for m in expected]


def test_a_file_named_zip_that_is_not_one_is_quarantined(tmp_path: Path) -> None:
    fake = tmp_path / "export.zip"
    fake.write_text("not a zip")
    (result,) = quarantined(fake)
    assert (result.location.path, result.reason) == (str(fake), QuarantineReason.BAD_ZIP)


def test_dicomdir_media_yield_only_the_referenced_files(study: Path, tmp_path: Path) -> None:
    media = tmp_path / "cd"
    shutil.copytree(study, media / study.name)
    write_dicomdir(media)
    (media / "AUTORUN.INF").write_text("[autorun]\nopen=viewer.exe\n")
    (media / "VIEWER").mkdir()
    (media / "VIEWER" / "viewer.exe").write_bytes(b"MZ")
    referenced = {str(p) for p in media.rglob("*") if p.is_file() and p.parts[-4:-3] == (
        "PT000000",)}
    found = locations(media)
    assert len(found) == sum(1 for _ in study.rglob("*.dcm")) == len(referenced)
    assert {f.path for f in found} == referenced


def lower_case_media(study: Path, tmp_path: Path) -> Path:
    """The study as DICOMDIR media mounted with lower-case folder names."""
    media = tmp_path / "cd"
    shutil.copytree(study, media / study.name)
    write_dicomdir(media)
    (media / "PT000000").rename(media / "pt000000")
    return media


def test_dicomdir_ids_resolve_case_insensitively_and_missing_files_are_named(
        study: Path, tmp_path: Path) -> None:
    media = lower_case_media(study, tmp_path)
    gone = sorted((media / "pt000000").rglob("IM*"))[-1]  # the last record's file
    gone.unlink()
    items = list(walk([media]))
    missing = [i for i in items if isinstance(i, Quarantined)]
    assert [(m.reason, m.detail) for m in missing] == [
        (QuarantineReason.UNREADABLE, "referenced by DICOMDIR but missing from the media")]
    assert Path(missing[0].location.path).name == gone.name
    found = [i.path for i in items if isinstance(i, Location)]
    assert sorted(found) == [str(p) for p in sorted((media / "pt000000").rglob("IM*"))]


def test_a_missing_first_dicomdir_file_does_not_repeat_the_others(study: Path,
                                                                  tmp_path: Path) -> None:
    media = lower_case_media(study, tmp_path)
    sorted((media / "pt000000").rglob("IM*"))[0].unlink()  # the first record's file
    found = [i.path for i in walk([media]) if isinstance(i, Location)]
    assert sorted(found) == [str(p) for p in sorted((media / "pt000000").rglob("IM*"))]


def test_broken_dicomdir_is_reported_and_the_folder_read_as_files(study: Path,
                                                                  tmp_path: Path) -> None:
    media = tmp_path / "cd"
    shutil.copytree(study, media / study.name)
    (media / "DICOMDIR").write_bytes(b"\0" * 200)
    items = list(walk([media]))
    assert isinstance(items[0], Quarantined) and items[0].reason == QuarantineReason.CORRUPT
    assert items[0].location.path == str(media / "DICOMDIR")
    assert [i.path for i in items[1:] if isinstance(i, Location)] == [
        str(p) for p in sorted(media.rglob("*.dcm"))]


def test_broken_symlink_and_missing_path_are_quarantined(study: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(next(study.rglob("*.dcm")), folder / "good.dcm")
    (folder / "dangling.dcm").symlink_to(tmp_path / "gone.dcm")
    items = list(walk([folder, tmp_path / "absent"]))
    assert [(type(i).__name__, i.path if isinstance(i, Location) else i.location.path)
            for i in items] == [("Quarantined", str(folder / "dangling.dcm")),
                                ("Location", str(folder / "good.dcm")),
                                ("Quarantined", str(tmp_path / "absent"))]
    dangling, absent = items[0], items[2]
    assert isinstance(dangling, Quarantined) and isinstance(absent, Quarantined)
    assert (dangling.reason, dangling.detail) == (QuarantineReason.UNREADABLE,
                                                  "broken symbolic link")
    assert (absent.reason, absent.detail) == (QuarantineReason.UNREADABLE, "no such file")
