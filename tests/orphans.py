"""Orphan checks for kill tests: no process of a killed run may outlive it.

A run started with :func:`marked_env` carries a random mark in its environment, and so does
every process it starts (workers, the fork server, the resource tracker, their children),
even after the run is killed and they are re-parented to init. :func:`survivors` finds them
by that mark, wherever they are in the process tree.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping

import psutil

_MARK = "DEDUP_TEST_RUN_MARK"


def marked_env(env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """``env`` plus a fresh mark; returns the environment and the mark."""
    mark = uuid.uuid4().hex
    return {**env, _MARK: mark}, mark


def survivors(mark: str, timeout: float = 15.0, *, end: bool = False) -> list[str]:
    """The processes still carrying ``mark`` after up to ``timeout`` seconds (as text).

    Args:
        mark: from :func:`marked_env`.
        timeout: how long they may take to notice that the run is gone.
        end: kill the survivors found (by their pid) before returning, so that a failing
            test leaves nothing behind either.

    """
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in psutil.process_iter(["pid", "cmdline", "status"])
                 if p.info["status"] != psutil.STATUS_ZOMBIE and mark_of(p) == mark]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    found = [f"{p.info['pid']} {' '.join(p.info['cmdline'] or [])[:120]}" for p in alive]
    for process in alive if end else ():
        with contextlib.suppress(psutil.Error):
            process.kill()
    return found


def mark_of(process: psutil.Process) -> str | None:
    """The mark a process carries (``None``: none, or gone, or not ours to read)."""
    try:
        return process.environ().get(_MARK)
    except psutil.Error:
        return None
