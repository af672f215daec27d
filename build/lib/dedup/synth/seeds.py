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
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _hex8(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:8]
