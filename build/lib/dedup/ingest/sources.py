"""Enumerate inputs: folders (recursively), zip files and DICOMDIR media.

Walking only stats files; nothing is read here except zip central directories and DICOMDIR
records. Nothing is ever modified or deleted in a source.

Only regular files inside the given roots are ever handed on to be read. Everything else
becomes a quarantine record with its reason, and the walk goes on:

* a FIFO, socket or device (reading one would hang, or never end): ``not-a-file``;
* a file larger than ``max_file_bytes``: ``too-large``;
* a symbolic link whose target lies outside the roots, or a DICOMDIR reference that leaves
  its medium (``..``, an absolute path, a link on the medium): ``outside-source``;
* a symbolic link loop (reported once, where the link is), a dangling link, a name that is
  not valid UTF-8 (recorded with its bytes escaped), a folder that cannot be listed:
  ``unreadable``.

A symbolic link whose target lies inside the roots is not followed: the target is read under
its own path, so nothing is read twice. The walk keeps its own stack (no recursion limit on
deep trees) and remembers the folders it walked, so a bind mount loop cannot trap it.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from dedup.config import Settings
from dedup.records import Location, Quarantined, QuarantineReason

DICOMDIR = "DICOMDIR"
#: The default of the ``max_file_bytes`` setting.
MAX_FILE_BYTES = Settings().max_file_bytes
_Item = Location | Quarantined
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))


def walk(paths: Iterable[str | Path], *, max_file_bytes: int = MAX_FILE_BYTES
         ) -> Iterator[Location | Quarantined]:
    """Yield every input under ``paths`` in a stable order.

    Folders are walked in sorted order; a folder holding a ``DICOMDIR`` is read as CD/DVD
    media (only the files its records reference, since the rest of a CD is viewer software);
    ``.zip`` files yield one location per member.

    Args:
        paths: files or folders (the roots: nothing outside them is read).
        max_file_bytes: largest file handed on; a larger one is quarantined (zip files are
            not: their members are bounded when read).

    Yields:
        Locations to read, or quarantine records for inputs that are not to be read.

    """
    roots = [Path(raw).absolute() for raw in paths]
    walker = _Walker(roots, max_file_bytes)
    for root in roots:
        yield from walker.root(root)


def shown(path: str | Path) -> str:
    """A path as text that can be stored and printed: bytes that are not UTF-8 escaped."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _quarantined(path: str | Path, reason: QuarantineReason, detail: str) -> Quarantined:
    return Quarantined(Location(shown(path)), reason, detail)


def _not_utf8(name: str) -> bool:
    """Whether a name decoded from the file system holds bytes that are not UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unreachable(path: Path, exc: OSError) -> Quarantined:
    """The record for a path that cannot be stat'ed (``exc`` from following it)."""
    if exc.errno == errno.ELOOP:
        return _quarantined(path, QuarantineReason.UNREADABLE, "symbolic link loop")
    if exc.errno == errno.ENOENT:
        detail = "broken symbolic link" if os.path.islink(path) else "no such file"
        return _quarantined(path, QuarantineReason.UNREADABLE, detail)
    return _quarantined(path, QuarantineReason.UNREADABLE, exc.strerror or type(exc).__name__)


def _special(path: Path, mode: int) -> Quarantined:
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return _quarantined(path, QuarantineReason.NOT_A_FILE,
                        f"{kind}, not a regular file; not read")


class _Walker:
    """One walk: the roots (resolved, for containment), the size limit, folders walked."""

    def __init__(self, roots: list[Path], max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.inside = [os.path.realpath(root) for root in roots]
        self.walked: set[tuple[int, int]] = set()

    def root(self, path: Path) -> Iterator[_Item]:
        """Yield what one given path holds (a link given as a root is followed)."""
        if _not_utf8(str(path)):
            yield _quarantined(path, QuarantineReason.UNREADABLE,
                               "name is not valid UTF-8; rename it to index it")
            return
        yield from self.followed(path, folders=True)

    def followed(self, path: Path, *, folders: bool = False) -> Iterator[_Item]:
        """A path (a link followed): a regular file, or a folder walked when ``folders``.

        Anything else is quarantined: a DICOMDIR reference (``folders`` false) must be a file.
        """
        try:
            st = os.stat(path)
        except OSError as exc:
            yield _unreachable(path, exc)
            return
        if folders and stat.S_ISDIR(st.st_mode):
            yield from self._tree(path, st)
        elif stat.S_ISREG(st.st_mode):
            yield from self._file(path, st)
        else:
            yield _special(path, st.st_mode)

    def _tree(self, top: Path, st: os.stat_result) -> Iterator[_Item]:
        """Walk a folder depth-first in sorted order, with a stack of folder listings."""
        stack = [self._folder(top, st)]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif isinstance(item, tuple):
                stack.append(self._folder(*item))
            else:
                yield item

    def _folder(self, folder: Path, st: os.stat_result
                ) -> Iterator[_Item | tuple[Path, os.stat_result]]:
        """One folder's inputs in order; a subfolder comes as ``(path, stat)`` to descend."""
        if (st.st_dev, st.st_ino) in self.walked:
            yield _quarantined(folder, QuarantineReason.UNREADABLE,
                               "folder reached twice (a bind mount or link loop); read once")
            return
        self.walked.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield _quarantined(folder, QuarantineReason.UNREADABLE,
                               f"cannot list folder: {exc.strerror}")
            return
        dicomdir = next((e for e in entries if e.name == DICOMDIR), None)
        if dicomdir is not None:
            media = list(_Medium(folder, self).items())
            yield from media  # a broken DICOMDIR says so, then the folder is read as files
            if media and not any(isinstance(m, Quarantined)
                                 and m.location.path == str(folder / DICOMDIR) for m in media):
                return
        for entry in entries:
            if entry.name != DICOMDIR:
                yield from self._entry(entry)

    def _entry(self, entry: os.DirEntry[str]) -> Iterator[_Item | tuple[Path, os.stat_result]]:
        path = Path(entry.path)
        if _not_utf8(entry.name):
            yield _quarantined(path, QuarantineReason.UNREADABLE,
                               "name is not valid UTF-8; rename it to index it")
            return
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            yield _unreachable(path, exc)
            return
        if stat.S_ISLNK(st.st_mode):
            yield from self._link(path)
        elif stat.S_ISDIR(st.st_mode):
            yield path, st
        elif stat.S_ISREG(st.st_mode):
            yield from self._file(path, st)
        else:
            yield _special(path, st.st_mode)

    def _link(self, path: Path) -> Iterator[_Item]:
        """A symbolic link met in a folder: never followed, at most reported."""
        try:
            st = os.stat(path)
        except OSError as exc:
            yield _unreachable(path, exc)
            return
        target = os.path.realpath(path)
        if not self.holds(target):
            yield _quarantined(path, QuarantineReason.OUTSIDE_SOURCE,
                               "symbolic link leading outside the paths given; not read "
                               "(give its target as a source to index it)")
        elif stat.S_ISDIR(st.st_mode) and _within(os.path.realpath(path.parent), target):
            yield _quarantined(path, QuarantineReason.UNREADABLE,
                               "symbolic link loop (a link to a folder that holds it)")
        # else: the target lies inside the roots and is read under its own path

    def holds(self, path: str) -> bool:
        """Whether a resolved path lies inside one of the roots."""
        return any(_within(path, root) for root in self.inside)

    def _file(self, path: Path, st: os.stat_result) -> Iterator[_Item]:
        if path.suffix.lower() == ".zip":
            yield from _zip_members(path, st.st_mtime)
        elif st.st_size > self.max_file_bytes:
            yield _quarantined(path, QuarantineReason.TOO_LARGE,
                               f"{st.st_size} bytes, more than max_file_bytes "
                               f"({self.max_file_bytes}); not read")
        else:
            yield Location(str(path), None, st.st_size, st.st_mtime)


def _within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _zip_members(path: Path, mtime: float) -> Iterator[_Item]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = sorted((i for i in archive.infolist() if not _zip_folder(i)),
                           key=lambda i: i.filename)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield _quarantined(path, QuarantineReason.BAD_ZIP, f"not a readable zip: {exc}")
        return
    for info in infos:
        if info.filename.rsplit("/", 1)[-1].upper() == DICOMDIR:
            continue  # the media index, not an image
        mode = info.external_attr >> 16
        if mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            yield Quarantined(Location(shown(path), info.filename, info.file_size, mtime),
                              QuarantineReason.NOT_A_FILE,
                              "a symbolic link or special file inside the zip; not read"
                              if stat.S_ISLNK(mode) else "not a regular file; not read")
            continue
        member_mtime = datetime(*info.date_time).timestamp()
        yield Location(str(path), info.filename, info.file_size, member_mtime or mtime)


def _zip_folder(info: zipfile.ZipInfo) -> bool:
    """A folder entry: named with a trailing slash, or marked a folder by its Unix mode."""
    return info.is_dir() or stat.S_ISDIR(info.external_attr >> 16)


class _Medium:
    """CD/DVD media: the files a DICOMDIR references, resolved case-insensitively.

    A reference is a list of path components under the medium's root; one that is empty,
    ``.`` or ``..``, holds a separator, or resolves (through links on the medium) outside
    the root is quarantined, never read.
    """

    def __init__(self, root: Path, walker: _Walker) -> None:
        self.root, self.walker = root, walker
        self.real_root = os.path.realpath(root)
        self.listings: dict[Path, dict[str, Path]] = {}

    def items(self) -> Iterator[_Item]:
        """What the medium holds, or a record saying its DICOMDIR cannot be used."""
        records = self._records()
        if isinstance(records, Quarantined):
            yield records
            return
        seen: set[Path] = set()
        for record in records:
            file_id = record.get("ReferencedFileID")
            if not file_id:
                continue
            parts = [str(file_id)] if isinstance(file_id, str) else [str(p) for p in file_id]
            where = "/".join([str(self.root), *parts])
            if any(p in ("", ".", "..") or "/" in p or "\\" in p or "\0" in p
                   or _not_utf8(p) for p in parts):
                yield _quarantined(where, QuarantineReason.OUTSIDE_SOURCE,
                                   "DICOMDIR reference leaves the medium (.., an absolute "
                                   "or malformed path); not read")
                continue
            target = self._resolve(parts)
            if target is None:
                yield _quarantined(where, QuarantineReason.UNREADABLE,
                                   "referenced by DICOMDIR but missing from the media")
            elif not _within(os.path.realpath(target), self.real_root):
                yield _quarantined(target, QuarantineReason.OUTSIDE_SOURCE,
                                   "DICOMDIR reference leads outside the medium through a "
                                   "symbolic link; not read")
            elif target not in seen:
                seen.add(target)
                yield from self.walker.followed(target)

    def _records(self) -> list[Dataset] | Quarantined:
        path = self.root / DICOMDIR
        try:
            st = os.stat(path)
        except OSError as exc:
            return _unreachable(path, exc)
        if not stat.S_ISREG(st.st_mode):
            return _special(path, st.st_mode)
        if not _within(os.path.realpath(path), self.real_root):
            return _quarantined(path, QuarantineReason.OUTSIDE_SOURCE, "DICOMDIR is a link to "
                                "a file outside the medium; folder read as plain files")
        if st.st_size > self.walker.max_file_bytes:
            return _quarantined(path, QuarantineReason.TOO_LARGE, f"DICOMDIR of {st.st_size} "
                                "bytes, more than max_file_bytes; folder read as plain files")
        try:
            return list(dcmread(path).DirectoryRecordSequence)
        except Exception as exc:  # pydicom raises many types for broken files
            return _quarantined(path, QuarantineReason.CORRUPT, f"unreadable DICOMDIR "
                                f"({type(exc).__name__}); folder read as plain files")

    def _resolve(self, parts: list[str]) -> Path | None:
        current = self.root
        for part in parts:
            candidate = current / part
            if not os.path.lexists(candidate):
                found = self._listing(current).get(part.upper())
                if found is None:
                    return None
                candidate = found
            current = candidate
        return current

    def _listing(self, folder: Path) -> dict[str, Path]:
        """A folder's entries by upper-case name (read once per folder)."""
        if folder not in self.listings:
            try:
                names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
            except OSError:
                names = []
            self.listings[folder] = {}
            for name in names:
                self.listings[folder].setdefault(name.upper(), folder / name)
        return self.listings[folder]
