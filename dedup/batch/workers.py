"""The worker processes' fork server, started as early as a command knows it needs workers.

Workers fork from a clean server that has imported what they need, not from the indexing
process (which has DuckDB threads running), and start in milliseconds. The server imports in
a process of its own, so ``dedup index`` starts it before importing the pipeline and the
two sets of imports overlap on two cores. This module imports nothing heavy for that reason.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing import forkserver
from multiprocessing.context import BaseContext

from dedup.config import Settings


def worker_context(settings: Settings) -> BaseContext | None:
    """The forkserver context of the worker processes, its server started (None: serial).

    Calling it again returns the same running server.
    """
    if settings.worker_count == 1:
        return None
    # the signature's matrices are tiny: BLAS threads would only spin against the workers
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["dedup.fingerprint.instance"])
    forkserver.ensure_running()
    return context
