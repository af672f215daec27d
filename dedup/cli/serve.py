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
from dedup.errors import UsageError


def serve(
    archive: Annotated[Path | None, archive_option(
        "DuckDB archive; its published snapshot is served "
        "[default: the config's, else archive.duckdb]")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: PortOption = 8080,
    config: Annotated[Path | None, config_option(
        "TOML configuration (settings and the [service] tokens).")] = None,
    tokens_file: Annotated[Path | None, typer.Option(
        help="File with one API token per line ('name:token' names the caller; mode 600).",
        envvar="DEDUP_TOKENS_FILE")] = None,
    viewer_url: Annotated[str, typer.Option(
        help="Link to a prior in the hospital's viewer, with {study_uid} (docs/schedulers.md) "
        "[default: the config's [service] viewer_url, else none]",
        envvar="DEDUP_VIEWER_URL")] = "",
    outcome_recorders: Annotated[str | None, typer.Option(
        help="Names of tokens (comma-separated) that may record outcomes of any caller's "
        "checks [default: the config's [service] outcome_recorders, else none]",
        envvar="DEDUP_OUTCOME_RECORDERS")] = None,
) -> None:
    """Serve pre-order checks over HTTP and CDS Hooks (tokens: DEDUP_SERVICE_TOKENS).

    Put a TLS proxy in front (deploy/nginx-dedup.conf): the service bounds header and body
    time and connections itself, the proxy adds TLS and limits per client.
    """
    import uvicorn

    from dedup.check import Checker
    from dedup.check.log import CheckLog
    from dedup.config.file import load_config
    from dedup.config.tokens import tokens_from
    from dedup.config.viewer import checked_template
    from dedup.service.cds_jwt import cds_auth_of
    from dedup.service.http import create_app
    from dedup.service.limits import MAX_HEADER_BYTES, bounded_protocol

    configured: tuple[str, ...] = ()
    recorders = ""
    cds_auth = None
    if config is not None:
        loaded = load_config(config)
        settings, configured = loaded.settings, loaded.tokens
        recorders = loaded.service.outcome_recorders
        viewer_url = viewer_url or loaded.service.viewer_url
        cds_auth = cds_auth_of(loaded.service)
    else:
        settings = Settings().with_env()
    path = str(archive) if archive is not None else settings.archive
    tokens = tokens_from(os.environ, tokens_file, configured)
    allowed = _recorders(recorders if outcome_recorders is None else outcome_recorders,
                         set(tokens.values()))
    checker = Checker(path, settings, CheckLog(path, state_dir=settings.state_dir,
                                               background=True),
                      viewer_url=checked_template(viewer_url, "--viewer-url"))
    app = create_app(checker, tokens, max_body=settings.check_max_body_bytes,
                     outcome_recorders=allowed, cds_auth=cds_auth)
    sys.setswitchinterval(0.001)  # the index rebuild thread yields the GIL to requests sooner
    log.info("serving checks of %s on http://%s:%d (%d token(s))", Path(path).name, host,
             port, len(tokens))
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False,
                log_level="warning", timeout_graceful_shutdown=5,
                http=bounded_protocol(settings), h11_max_incomplete_event_size=MAX_HEADER_BYTES)


def _recorders(text: str, names: set[str]) -> frozenset[str]:
    """The token names of ``outcome_recorders``, each one a configured token's name.

    Raises:
        UsageError: a name is no configured token's.

    """
    wanted = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(wanted - names)
    if unknown:
        raise UsageError(f"outcome_recorders names {len(unknown)} token name(s) no configured "
                         "token has; list names given as 'name:token' entries, comma-separated")
    return wanted
