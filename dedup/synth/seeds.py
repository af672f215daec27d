"""Seed derivation: sub-seeds, UIDs and folder names, all hashed from their parts.

Everything in the corpus derives from these three helpers, so the same seed always gives
the same bytes.
"""

from __future__ import annotations

import hashlib

from pydicom.uid import generate_uid


def _subseed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def _uid(*parts: object) -> str:
    # one source: generate_uid joins several without a separator, so (3, 1, 12) and
    # (31, 1, 2) would give the same UID
    return generate_uid(entropy_srcs=[repr(parts)])


def _hex8(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:8]
