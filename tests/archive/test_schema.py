"""Migration discovery: the shipped ``NNNN_*.sql`` files and what an archive still needs."""

from __future__ import annotations

import pytest

from dedup.archive.schema import migrations, pending_migrations
from dedup.errors import ArchiveError


def test_migrations_are_numbered_in_order_from_one() -> None:
    numbers = [number for number, _ in migrations()]
    assert numbers[0] == 1 and numbers == sorted(set(numbers))
    assert all(name.startswith(f"{number:04d}_") for number, name in migrations())


def test_pending_migrations_are_those_after_the_archive_version() -> None:
    shipped = migrations()
    assert pending_migrations(0) == shipped
    assert pending_migrations(shipped[0][0]) == shipped[1:]
    assert pending_migrations(shipped[-1][0]) == []


def test_an_archive_newer_than_the_code_is_refused() -> None:
    newest = migrations()[-1][0]
    with pytest.raises(ArchiveError, match=f"version {newest + 1} is newer.*upgrade dedup"):
        pending_migrations(newest + 1)
