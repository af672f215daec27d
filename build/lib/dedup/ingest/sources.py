"""Enumerate inputs: folders (recursively), zip files and DICOMDIR media.

Walking only stats files; nothing is read here except zip central directories and
DICOMDIR records. Nothing is ever modified or deleted in a source.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from pydicom import dcmread

from dedup.records import Location, Quarantined, QuarantineReason

DICOMDIR = "DICOMDIR"


def walk(paths: Iterable[str | Path]) -> Iterator[Location | Quarantined]:
    """Yield every input under ``paths`` in a stable order.

    Folders are walked recursively in sorted order; a folder holding a ``DICOMDIR`` is read as
    CD/DVD media (only the files its records reference, since the rest of a CD is viewer
    software); ``.zip`` files yield one location per member.

    Args:
        paths: files or folders.

    Yields:
        Locations to read, or quarantine records for inputs that cannot even be listed.

    """
    for raw in paths:
        path = Path(raw).absolute()
        if path.is_dir():
            yield from _walk_dir(path)
        elif path.exists():
            yield from _file(path)
        else:
            yield Quarantined(Location(str(path)), QuarantineReason.UNREADABLE, "no such file")


def _walk_dir(root: Path) -> Iterator[Location | Quarantined]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        yield Quarantined(Location(str(root)), QuarantineReason.UNREADABLE,
                          f"cannot list folder: {exc.strerror}")
        return
    names = {e.name for e in entries}
    if DICOMDIR in names:
        media = list(_dicomdir(root / DICOMDIR))
        broken = [m for m in media if isinstance(m, Quarantined)
                  and m.location.path == str(root / DICOMDIR)]
        yield from media  # a broken DICOMDIR says so, then the folder is read as plain files
        if media and not broken:
            return
    for entry in entries:
        if entry.name == DICOMDIR:
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_dir(Path(entry.path))
        elif entry.is_file():
            yield from _file(Path(entry.path))
        elif entry.is_symlink():
            yield Quarantined(Location(entry.path), QuarantineReason.UNREADABLE,
                              "broken symbolic link")


def _file(path: Path) -> Iterator[Location | Quarantined]:
    try:
        stat = path.stat()
    except OSError as exc:
        yield Quarantined(Location(str(path)), QuarantineReason.UNREADABLE, exc.strerror or "")
        return
    if path.suffix.lower() == ".zip":
        yield from _zip_members(path, stat.st_mtime)
    else:
        yield Location(str(path), None, stat.st_size, stat.st_mtime)


def _zip_members(path: Path, mtime: float) -> Iterator[Location | Quarantined]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = sorted((i for i in archive.infolist() if not i.is_dir()),
                           key=lambda i: i.filename)
    except (zipfile.BadZipFile, OSError) as exc:
        yield Quarantined(Location(str(path)), QuarantineReason.BAD_ZIP,
                          f"not a readable zip: {exc}")
        return
    for info in infos:
        if info.filename.rsplit("/", 1)[-1].upper() == DICOMDIR:
            continue  # the media index, not an image
        member_mtime = datetime(*info.date_time).timestamp()
        yield Location(str(path), info.filename, info.file_size, member_mtime or mtime)


def _dicomdir(path: Path) -> Iterator[Location | Quarantined]:
    """Yield the files a DICOMDIR references, resolving IDs case-insensitively."""
    try:
        ds = dcmread(path)
        records = list(ds.DirectoryRecordSequence)
    except Exception as exc:  # pydicom raises many types for broken files
        yield Quarantined(Location(str(path)), QuarantineReason.CORRUPT,
                          f"unreadable DICOMDIR ({type(exc).__name__}); folder read as plain files")
        return
    root, seen = path.parent, set()
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        target = _resolve(root, parts)
        if target is None:
            yield Quarantined(Location(str(root.joinpath(*parts))), QuarantineReason.UNREADABLE,
                              "referenced by DICOMDIR but missing from the media")
        elif target not in seen:
            seen.add(target)
            yield from _file(target)


def _resolve(root: Path, parts: list[str]) -> Path | None:
    current = root
    for part in parts:
        candidate = current / part
        if not candidate.exists():
            matches = [p for p in current.iterdir() if p.name.upper() == part.upper()] \
                if current.is_dir() else []
            if not matches:
                return None
            candidate = matches[0]
        current = candidate
    return current
