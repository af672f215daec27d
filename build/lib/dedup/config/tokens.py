"""The check service's API tokens: from environment variables and an owner-only tokens file.

An entry is ``token`` or ``name:token``; the name is what the audit log records for the caller
(a nameless token is named by the first 8 hex digits of its hash, never the token itself).
Environment variables hold entries comma-separated; a tokens file holds one per line, ``#``
starts a comment line, and the file must be readable by its owner only (mode 600). Only the
tokens' SHA-256 digests are kept.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from dedup.errors import UsageError

#: The variables the service reads tokens from, comma-separated.
TOKEN_VARIABLES = ("DEDUP_SERVICE_TOKENS", "DEDUP_TOKENS")
#: The variable naming a tokens file when ``--tokens-file`` is not given.
TOKENS_FILE_VARIABLE = "DEDUP_TOKENS_FILE"
#: Shortest token accepted (the part after ``name:``).
MIN_TOKEN_LENGTH = 16
_NAMED = re.compile(r"^([A-Za-z0-9_-]{1,64}):(.+)$")


def split_tokens(text: str) -> list[str]:
    """The entries of a comma-separated list, stripped, without empty ones."""
    return [entry.strip() for entry in text.split(",") if entry.strip()]


def read_tokens_file(path: str | Path, label: str = "") -> list[str]:
    """The entries of a tokens file: one per line, blank and ``#`` comment lines skipped.

    Args:
        path: the file.
        label: how errors name the file (default ``tokens file '<path>'``).

    Returns:
        The entries, stripped.

    Raises:
        UsageError: the file cannot be read, or others than its owner may read or write it.

    """
    label = label or f"tokens file {str(path)!r}"
    try:
        mode = Path(path).stat().st_mode & 0o777
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"{label} cannot be read ({exc.strerror})") from None
    if mode & 0o077:
        raise UsageError(f"{label} has mode {mode:o}; it must be readable by its owner only: "
                         f"chmod 600 {path}")
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def accepted_tokens(entries: Iterable[str]) -> dict[bytes, str]:
    """Accepted tokens as ``{sha256(token): caller name}``.

    Args:
        entries: ``token`` or ``name:token`` each; blank entries are skipped.

    Returns:
        The digest of every token with its caller's name (empty when there are no entries).

    Raises:
        UsageError: a token is shorter than :data:`MIN_TOKEN_LENGTH` characters.

    """
    tokens: dict[bytes, str] = {}
    short = 0
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        named = _NAMED.match(entry)
        name, token = named.groups() if named else ("", entry)
        if len(token) < MIN_TOKEN_LENGTH:
            short += 1
            continue
        digest = hashlib.sha256(token.encode()).digest()
        tokens[digest] = name or f"token-{digest.hex()[:8]}"
    if short:
        raise UsageError(f"{short} API token(s) shorter than {MIN_TOKEN_LENGTH} characters; use "
                         "long random tokens, e.g. `python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))'`")
    return tokens


def tokens_from(environ: Mapping[str, str], tokens_file: str | Path | None = None,
                configured: Iterable[str] = ()) -> dict[bytes, str]:
    """The service's tokens: a config file's entries, the environment's and a tokens file's.

    Args:
        environ: the environment (:data:`TOKEN_VARIABLES`, :data:`TOKENS_FILE_VARIABLE`).
        tokens_file: the tokens file (default: the one ``DEDUP_TOKENS_FILE`` names, if any).
        configured: entries already read, e.g. :attr:`dedup.config.Config.tokens`.

    Returns:
        ``{sha256(token): caller name}`` for every token.

    Raises:
        UsageError: the tokens file is unreadable or readable by others, a token is too short,
            or there is no token at all.

    """
    entries = list(configured)
    for variable in TOKEN_VARIABLES:
        entries += split_tokens(environ.get(variable, ""))
    path = tokens_file or environ.get(TOKENS_FILE_VARIABLE, "")
    if path:
        entries += read_tokens_file(path)
    tokens = accepted_tokens(entries)
    if not tokens:
        raise UsageError("no API tokens configured; set DEDUP_SERVICE_TOKENS (or "
                         "DEDUP_TOKENS), pass --tokens-file FILE, or name them in the "
                         "[service] section of --config FILE")
    return tokens
