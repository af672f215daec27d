"""dedup.ingest.sources: what a walk of folders, zips and DICOMDIR media yields, in what order."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import sys
import threading
import zipfile
from pathlib import Path

import pydicom
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


# Hostile input: only regular files inside the roots are handed on; the rest is quarantined
# with its reason (a loop once), and the walk goes on. A walk that hangs fails the test.

def finished_walk(*paths: Path | str, **kwargs: int) -> list[Location | Quarantined]:
    """The walk's items, from a thread that must finish within 60 s (a FIFO must not hang)."""
    items: list[Location | Quarantined] = []
    thread = threading.Thread(target=lambda: items.extend(walk(paths, **kwargs)), daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the walk hangs"
    return items


def reasons(items: list[Location | Quarantined]) -> dict[str, tuple[str, str]]:
    return {Path(i.location.path).name: (i.reason, i.detail) for i in items
            if isinstance(i, Quarantined)}


def read_paths(items: list[Location | Quarantined]) -> list[str]:
    return [i.path for i in items if isinstance(i, Location)]


def test_special_files_are_quarantined_never_opened(study: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(study, folder)
    for name in ("pipe", "pipe.zip"):
        os.mkfifo(folder / name)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock"))
    items = finished_walk(folder, "/dev/zero", "/dev/null", folder / "pipe")
    found = reasons(items)
    assert found == {
        "pipe": (QuarantineReason.NOT_A_FILE, "a FIFO (named pipe), not a regular file; not read"),
        "pipe.zip": (QuarantineReason.NOT_A_FILE,
                     "a FIFO (named pipe), not a regular file; not read"),
        "sock": (QuarantineReason.NOT_A_FILE, "a socket, not a regular file; not read"),
        "zero": (QuarantineReason.NOT_A_FILE,
                 "a character device, not a regular file; not read"),
        "null": (QuarantineReason.NOT_A_FILE,
                 "a character device, not a regular file; not read")}
    assert read_paths(items) == [str(p) for p in sorted(folder.rglob("*.dcm"))]
    sock.close()


def test_symbolic_link_loops_are_reported_once_and_the_walk_goes_on(study: Path,
                                                                    tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(study, folder)
    series = sorted(p for p in folder.iterdir())
    (folder / "l").symlink_to("l")  # ln -s l d/l
    (series[0] / "up").symlink_to("..")  # a folder that holds the link
    (series[1] / "self").symlink_to(".")
    items = finished_walk(folder, folder / "l")
    assert [(Path(i.location.path).relative_to(folder).as_posix(), i.detail)
            for i in items if isinstance(i, Quarantined)] == [
        (f"{series[0].name}/up", "symbolic link loop (a link to a folder that holds it)"),
        (f"{series[1].name}/self", "symbolic link loop (a link to a folder that holds it)"),
        ("l", "symbolic link loop"), ("l", "symbolic link loop")]
    assert read_paths(items) == [str(p) for p in sorted(folder.rglob("*.dcm"))]


def test_links_are_never_followed_out_of_the_roots_nor_read_twice(study: Path,
                                                                  tmp_path: Path) -> None:
    folder, outside = tmp_path / "in", tmp_path / "elsewhere"
    shutil.copytree(study, folder)
    shutil.copytree(study, outside)
    first = sorted(folder.rglob("*.dcm"))[0]
    (folder / "again.dcm").symlink_to(first)  # inside: read once, under its own path
    (folder / "series-again").symlink_to(first.parent)
    (folder / "secret.dcm").symlink_to(sorted(outside.rglob("*.dcm"))[0])
    (folder / "tree").symlink_to(outside)
    (folder / "root").symlink_to("/")
    items = finished_walk(folder)
    assert {name: reason for name, (reason, _) in reasons(items).items()} == dict.fromkeys(
        ("secret.dcm", "tree", "root"), QuarantineReason.OUTSIDE_SOURCE)
    assert read_paths(items) == [str(p) for p in sorted(folder.rglob("*.dcm"))
                                 if not p.is_symlink() and "series-again" not in p.parts]
    both = finished_walk(folder, outside / sorted(outside.iterdir())[0].name)
    assert "tree" in reasons(both)  # only the target folder's files are read, not the link


def test_a_name_that_is_not_utf8_is_quarantined_with_its_bytes_escaped(tmp_path: Path
                                                                        ) -> None:
    raw = os.fsencode(tmp_path) + b"/in/bad\xff\xfe.dcm"
    os.makedirs(os.fsencode(tmp_path) + b"/in/dir\xff")
    Path(os.fsdecode(raw)).write_bytes(b"x")
    (tmp_path / "in" / "good.dcm").write_bytes(b"x")
    items = finished_walk(tmp_path / "in")
    found = {i.location.path: i.detail for i in items if isinstance(i, Quarantined)}
    assert found == dict.fromkeys((f"{tmp_path}/in/bad\\xff\\xfe.dcm", f"{tmp_path}/in/dir\\xff"),
                                  "name is not valid UTF-8; rename it to index it")
    assert read_paths(items) == [str(tmp_path / "in" / "good.dcm")]
    for item in items:
        assert isinstance(item, Location) or item.location.path.encode("utf-8")


def test_files_over_the_size_limit_are_quarantined(study: Path, tmp_path: Path) -> None:
    files = sorted(study.rglob("*.dcm"))
    limit = min(f.stat().st_size for f in files)
    items = finished_walk(study, max_file_bytes=limit)
    assert read_paths(items) == [str(f) for f in files if f.stat().st_size <= limit]
    big = [i for i in items if isinstance(i, Quarantined)]
    assert big and all(i.reason == QuarantineReason.TOO_LARGE for i in big)
    assert big[0].detail.endswith(f"more than max_file_bytes ({limit}); not read")


def test_a_tree_deeper_than_the_recursion_limit_is_walked(tmp_path: Path) -> None:
    levels = [tmp_path]
    for _ in range(sys.getrecursionlimit() + 200):  # Path.mkdir(parents=True) recurses too
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    deep = levels[-1] / "x.dcm"
    deep.write_bytes(b"x")
    try:
        assert read_paths(finished_walk(tmp_path)) == [str(deep)]
    finally:  # pytest's own clean-up of old temporary folders recurses: leave it a flat one
        deep.unlink()
        for level in reversed(levels[1:]):
            level.rmdir()


def _refer(media: Path, file_ids: dict[int, list[str]]) -> None:
    """Rewrite the ReferencedFileID of some DICOMDIR records (by their position)."""
    dicomdir = pydicom.dcmread(media / "DICOMDIR")
    records = [r for r in dicomdir.DirectoryRecordSequence if "ReferencedFileID" in r]
    for position, parts in file_ids.items():
        records[position].ReferencedFileID = parts
    dicomdir.save_as(media / "DICOMDIR")


def test_dicomdir_references_never_leave_the_medium(study: Path, tmp_path: Path) -> None:
    media = tmp_path / "cd"
    shutil.copytree(study, media / study.name)
    write_dicomdir(media)
    secret = tmp_path / "secret.dcm"
    shutil.copy(next(study.rglob("*.dcm")), secret)
    files = sorted((media / "PT000000").rglob("IM*"))
    files[3].unlink()
    files[3].symlink_to(secret)  # a link on the medium leading off it
    files[4].unlink()
    files[4].mkdir()  # a folder where a file is expected
    _refer(media, {0: ["..", "secret.dcm"], 1: [str(secret)], 2: ["PT000000", "..", "..",
                                                                   "secret.dcm"]})
    items = finished_walk(media)
    outside = [i for i in items if isinstance(i, Quarantined)
               and i.reason == QuarantineReason.OUTSIDE_SOURCE]
    assert len(outside) == 4 and all(str(secret) != i.location.path for i in outside[:3])
    assert [i.detail for i in items if isinstance(i, Quarantined)
            and i.reason == QuarantineReason.NOT_A_FILE] == [
        "a folder, not a regular file; not read"]
    assert read_paths(items) == [str(f) for f in files[5:]]
    assert all(str(secret) not in p for p in read_paths(items))


def test_a_dicomdir_that_is_not_a_regular_file_is_not_read(study: Path, tmp_path: Path
                                                           ) -> None:
    media = tmp_path / "cd"
    shutil.copytree(study, media / study.name)
    os.mkfifo(media / "DICOMDIR")
    items = finished_walk(media)
    assert reasons(items) == {"DICOMDIR": (QuarantineReason.NOT_A_FILE,
                                           "a FIFO (named pipe), not a regular file; not read")}
    assert read_paths(items) == [str(p) for p in sorted(media.rglob("*.dcm"))]


def test_zip_members_that_are_links_or_folders_are_not_read(study: Path, tmp_path: Path
                                                            ) -> None:
    archive = tmp_path / "x.zip"
    zip_study(study, archive)
    with zipfile.ZipFile(archive, "a") as zf:
        link = zipfile.ZipInfo("link.dcm")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        folder = zipfile.ZipInfo("folder-without-slash")
        folder.external_attr = (stat.S_IFDIR | 0o755) << 16
        zf.writestr(folder, b"")
    named_zip = tmp_path / "folder.zip"  # a folder where a zip file is expected: walked
    shutil.copytree(study, named_zip / study.name)
    items = finished_walk(archive, named_zip)
    assert [(i.location.member, i.reason) for i in items if isinstance(i, Quarantined)] == [
        ("link.dcm", QuarantineReason.NOT_A_FILE)]
    members = [i for i in items if isinstance(i, Location) and i.member is not None]
    assert len(members) == len(list(study.rglob("*.dcm")))
    assert read_paths(items)[len(members):] == [str(p) for p in sorted(named_zip.rglob("*.dcm"))]
