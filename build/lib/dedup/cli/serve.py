"""``dedup serve``: the check service (HTTP API and CDS Hooks) on one port."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.options import PortOption, archive_option, config_option
from dedup.cli.output import log
from dedup.config import Settings


def serve(
    archive: Annotated[Path | None, archive_option(
        "DuckDB archive; its published snapshot is served "
        "[default: the config's, else archive.duckdb]")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: PortOption = 8080,
    config: Annotated[Path | None, config_option(
        "TOML configuration (settings and the [service] tokens).", short=False)] = None,
    tokens_file: Annotated[Path | None, typer.Option(
        help="File with one API token per line ('name:token' names the caller; mode 600).",
        envvar="DEDUP_TOKENS_FILE")] = None,
    viewer_url: Annotated[str, typer.Option(
        help="Link for a prior in CDS cards, with {study_uid} "
        "[default: this service's /v1/studies/{study_uid}]", envvar="DEDUP_VIEWER_URL")] = "",
) -> None:
    """Serve pre-order checks over HTTP and CDS Hooks (tokens: DEDUP_SERVICE_TOKENS)."""
    import uvicorn

    from dedup.check import Checker
    from dedup.check.log import CheckLog
    from dedup.config.file import load_config
    from dedup.config.tokens import tokens_from
    from dedup.service.http import create_app

    configured: tuple[str, ...] = ()
    if config is not None:
        loaded = load_config(config)
        settings, configured = loaded.settings, loaded.tokens
    else:
        settings = Settings().with_env()
    path = str(archive) if archive is not None else settings.archive
    tokens = tokens_from(os.environ, tokens_file, configured)
    checker = Checker(path, settings, CheckLog(path, background=True))
    app = create_app(checker, tokens, max_body=settings.check_max_body_bytes,
                     viewer_url=viewer_url)
    sys.setswitchinterval(0.001)  # the index rebuild thread yields the GIL to requests sooner
    log.info("serving checks of %s on http://%s:%d (%d token(s))", Path(path).name, host,
             port, len(tokens))
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False,
                log_level="warning", timeout_graceful_shutdown=5)
