"""Files and folders that hold patient data: readable by their owner only, whatever the umask.

The archive, its snapshots, its write-ahead log, the check log and the PACS spool hold PHI.
dedup creates them mode 600 (folders 700) even when the process's umask would make them
world-readable (the usual 022):

- a file dedup creates itself is opened with mode 600 (:func:`create_private`,
  :func:`private_opener`);
- a folder is made, or tightened, with :func:`private_folder`;
- files another library creates (DuckDB makes the database, its ``.wal`` again after every
  checkpoint, and its spill folder) are covered by :func:`owner_only`, which adds 077 to the
  process's umask while it is held: a writable archive holds it from opening to closing.

Existing files are left as they are: an operator who widened one did so on purpose.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "create_private", "owner_only", "private_folder",
           "private_opener"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_lock = threading.Lock()
_holders = [0]
_saved = [0]


@contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created meanwhile (by this process) are its owner's only.

    The umask is process-wide, so holders are counted: the umask is restored when the last
    one leaves. Other threads' new files are private meanwhile too, which is never less safe.
    """
    with _lock:
        if not _holders[0]:
            _saved[0] = os.umask(0o077)
            os.umask(_saved[0] | 0o077)
        _holders[0] += 1
    try:
        yield
    finally:
        with _lock:
            _holders[0] -= 1
            if not _holders[0]:
                os.umask(_saved[0])


def create_private(path: str | Path) -> None:
    """Create ``path`` empty with mode 600 (an existing file is emptied and keeps its mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.close(fd)


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates files mode 600."""
    return os.open(path, flags, FILE_MODE)


def private_folder(path: str | Path) -> Path:
    """Make ``path`` and its missing parents, each mode 700 (existing ones are left alone).

    Returns:
        The folder.

    """
    folder = Path(path)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for made in reversed(missing):
        try:
            made.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process: its mode is its maker's
        os.chmod(made, FOLDER_MODE)  # mkdir's mode is cut by the umask
    return folder
