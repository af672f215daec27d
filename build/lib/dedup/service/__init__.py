"""The check service: HTTP API and CDS Hooks over :mod:`dedup.check`.

Mapping, authentication and audit only; no logic of its own.
"""

from dedup.service.http import create_app

__all__ = ["create_app"]
