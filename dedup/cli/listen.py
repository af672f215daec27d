"""``dedup listen``: a DICOM storage SCP that indexes and matches each study as it arrives."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.options import config_option
from dedup.errors import UsageError


def listen(
    config: Annotated[Path | None, config_option(
        "TOML configuration with a listen section (docs/listen.md).")] = None,
    host: Annotated[str | None, typer.Option(
        help="Address to listen on [default: the listen section's host]")] = None,
    port: Annotated[int | None, typer.Option(
        help="TCP port to listen on [default: the listen section's port]")] = None,
) -> None:
    """Receive instances over DICOM (C-STORE); match each study once it goes quiet.

    Only the calling AE titles in the listen section's allowed list may send. Each instance
    is on disk in the spool before it is acknowledged; a study is indexed and matched once
    no instance of it arrived for idle_seconds, and what is spooled but not indexed when
    the process ends is indexed at the next start. SIGTERM or Ctrl-C stops it after the
    indexing run in progress.
    """
    import logging

    from dedup.batch.listen import listen as run_listen
    from dedup.config.file import load_config

    if config is None:
        raise UsageError("no configuration file: pass --config FILE or set DEDUP_CONFIG "
                         "(docs/listen.md has an example [listen] section)")
    loaded = load_config(config)
    if loaded.listen is not None and host is not None:
        loaded = replace(loaded, listen=replace(loaded.listen, host=host))
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    sys.setswitchinterval(0.001)  # indexing (same process) yields the GIL to receiving sooner
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        run_listen(loaded, stop, port=port)
    except OSError as exc:
        raise UsageError(f"cannot listen: {exc.strerror or exc}") from None
