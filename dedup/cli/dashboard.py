"""``dedup dashboard``: serve the Streamlit savings dashboard (``dedup/dashboard/app.py``)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import ipaddress
import os
import signal
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.options import PortOption, archive_option, config_option
from dedup.cli.output import log
from dedup.errors import UsageError

_PR_SET_PDEATHSIG = 1


def dashboard(
    archive: Annotated[Path | None, archive_option(
        "Archive whose published snapshot to show (default: the `archive` setting).")] = None,
    port: PortOption = 8501,
    host: Annotated[str, typer.Option(
        help="Address to listen on. Loopback by default: the dashboard has no sign-in of its "
             "own, so a proxy with authentication serves it (deploy/dedup-dashboard.nginx).")
    ] = "127.0.0.1",
    address: Annotated[str | None, typer.Option(
        "--address", hidden=True, help="Deprecated spelling of --host.")] = None,
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="Listen on a non-loopback --host (only behind a proxy with "
        "authentication on another host).")] = False,
    config: Annotated[Path | None, config_option(
        "TOML configuration file (settings such as exam_costs, dashboard_drilldown).")] = None,
) -> None:
    """Serve the savings dashboard: avoided repeats, storage reclaimable, savings, dose.

    It reads only the snapshot each batch publishes, so it never waits on the nightly batch.
    """
    flag = "--host"
    if address is not None:
        log.warning("--address is deprecated; use --host")
        host, flag = address, "--address"
    if not allow_remote and not _is_loopback(host):
        raise UsageError(
            f"{flag} {host} is not a loopback address and the dashboard has no sign-in "
            "of its own: keep it on 127.0.0.1 behind the authenticating proxy of "
            "deploy/dedup-dashboard.nginx (docs/dashboard.md), or add --allow-remote if a "
            "proxy on another host guards this address")
    app = Path(str(resources.files("dedup.dashboard").joinpath("app.py")))
    if not app.is_file():
        raise UsageError(f"the dashboard app is missing from this installation ({app}); "
                         "reinstall dedup")
    env = dict(os.environ)
    if archive is not None:
        env["DEDUP_ARCHIVE"] = str(archive.resolve())
    if config is not None:
        env["DEDUP_CONFIG"] = str(config.resolve())
    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.port", str(port), "--server.address", host,
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]
    die_with_me = functools.partial(_die_with, os.getpid())
    raise typer.Exit(subprocess.call(command, env=env, preexec_fn=die_with_me))


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name other than localhost
        return False


def _die_with(parent: int) -> None:
    """In the Streamlit child: end when ``dedup dashboard`` ends, however it ends (Linux)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: no parent-death signal
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)
