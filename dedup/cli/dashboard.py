"""``dedup dashboard``: serve the Streamlit savings dashboard (``dashboards/app.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.options import PortOption, archive_option, config_option
from dedup.errors import UsageError

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def dashboard(
    archive: Annotated[Path | None, archive_option(
        "Archive whose published snapshot to show (default: the `archive` setting).",
        short=False)] = None,
    port: PortOption = 8501,
    address: Annotated[str, typer.Option(
        help="Address to listen on (loopback by default; put a proxy with authentication "
             "in front before exposing it).")] = "127.0.0.1",
    config: Annotated[Path | None, config_option(
        "TOML configuration file (settings such as exam_costs, dashboard_drilldown).")] = None,
) -> None:
    """Serve the savings dashboard: avoided repeats, storage reclaimable, savings, dose.

    It reads only the snapshot each batch publishes, so it never waits on the nightly batch.
    """
    if not APP.is_file():
        raise UsageError(f"the dashboard app is not at {str(APP)!r}; it ships in the source "
                         "tree (dashboards/app.py): install dedup from a checkout")
    env = dict(os.environ)
    if archive is not None:
        env["DEDUP_ARCHIVE"] = str(archive.resolve())
    if config is not None:
        env["DEDUP_CONFIG"] = str(config.resolve())
    command = [sys.executable, "-m", "streamlit", "run", str(APP),
               "--server.port", str(port), "--server.address", address,
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]
    raise typer.Exit(subprocess.call(command, env=env))
