"""The patient pseudonym of the check log, and the key file it is computed under.

No name, ID or birth date is stored in the check log: the patient is a pseudonym, an
HMAC-SHA256 of the normalised family name, given name, birth date and sex under a key kept in
``<archive>.checks.key`` in the state folder (setting ``state_dir``; default: next to the
archive; created with mode 0600; a key readable by others is refused). The
same patient gets the same pseudonym across checks, which is what an audit needs, while the
pseudonym cannot be reversed or recomputed without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from dedup.archive.db import beside
from dedup.errors import UsageError
from dedup.match.linkage import normalise_name

__all__ = ["in_state_dir", "key_path", "load_key", "pseudonym"]


def key_path(archive_path: str | Path, state_dir: str | Path = "") -> Path:
    """The pseudonym key of an archive: ``<archive>.checks.key`` in ``state_dir``.

    Args:
        archive_path: the archive whose checks the key pseudonymises.
        state_dir: the service's state folder (empty: the archive's own folder).

    """
    return beside(in_state_dir(archive_path, state_dir), ".checks.key")


def in_state_dir(archive_path: str | Path, state_dir: str | Path = "") -> Path:
    """Where the archive's name lies in ``state_dir``: the stem of the state files' names."""
    return Path(state_dir) / Path(archive_path).name if state_dir else Path(archive_path)


def load_key(path: str | Path) -> bytes:
    """Read the pseudonym key, creating it (32 random bytes, mode 0600) if it is missing.

    Raises:
        UsageError: the key file is readable or writable by group or others, or malformed.

    """
    path = Path(path)
    if not path.exists():
        _create_key(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise UsageError(f"pseudonym key {str(path)!r} has mode {mode:o}; it must be readable "
                         f"by its owner only: chmod 600 {path}")
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise UsageError(f"pseudonym key {str(path)!r} is not hex; delete it to create a new "
                         "one (pseudonyms of earlier checks will no longer match)") from None


def _create_key(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    try:
        os.link(tmp, path)  # atomic: a concurrent creator's key wins, never a mix
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def pseudonym(key: bytes, name: str, birth_date: str, sex: str) -> str:
    """Keyed, stable pseudonym of a patient's normalised demographics (32 hex characters)."""
    parts = normalise_name(name)
    text = f"{parts.family}|{parts.given}|{birth_date}|{sex.upper()[:1]}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]
