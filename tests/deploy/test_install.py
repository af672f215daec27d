"""`deploy/install.sh` into a temporary root: a wheel, a venv, folders, config, docs, units."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(work / "dist"), str(REPO)], check=True, capture_output=True)
    wheel = next((work / "dist").glob("dicom_dedup-*.whl"))
    root = work / "root"
    subprocess.run([str(REPO / "deploy" / "install.sh"), "--root", str(root), "--no-user",
                    "--python", sys.executable, str(wheel)], check=True, capture_output=True,
                   timeout=900)
    return root


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_and_secrets_have_their_modes(installed: Path) -> None:
    assert mode(installed / "etc/dedup") == 0o750
    assert mode(installed / "etc/dedup/dedup.toml") == 0o640
    assert mode(installed / "etc/dedup/dedup.env") == 0o600
    assert mode(installed / "var/lib/dedup") == 0o750
    assert mode(installed / "var/lib/dedup/state") == 0o700


def test_the_installed_command_and_its_dashboard_run_outside_a_checkout(installed: Path
                                                                         ) -> None:
    bin_dir = installed / "opt/dedup/.venv/bin"
    version = subprocess.run([str(bin_dir / "dedup"), "--version"], capture_output=True,
                             text=True, check=True, cwd=installed)
    assert version.stdout.startswith("dedup ")
    app = subprocess.run([str(bin_dir / "python"), "-c", "from importlib import resources; "
                          "print(resources.files('dedup.dashboard').joinpath('app.py'))"],
                         capture_output=True, text=True, check=True, cwd=installed)
    assert Path(app.stdout.strip()).is_file() and str(installed) in app.stdout


def test_every_unit_points_at_what_was_installed(installed: Path) -> None:
    units = sorted((installed / "etc/systemd/system").iterdir())
    assert {u.name for u in units} == {"dedup-nightly.service", "dedup-nightly.timer",
                                       "dedup-serve.service", "dedup-dashboard.service"}
    for unit in units:
        text = unit.read_text()
        for target in re.findall(r"^Documentation=file://(\S+)", text, re.M):
            assert (installed / target.lstrip("/")).is_file(), f"{unit.name}: {target}"
        for command in re.findall(r"^ExecStart=(\S+)", text, re.M):
            assert (installed / command.lstrip("/")).is_file(), f"{unit.name}: {command}"


def test_a_second_install_keeps_the_edited_configuration(installed: Path) -> None:
    config = installed / "etc/dedup/dedup.toml"
    config.write_text(config.read_text() + "\n# edited by the site\n")
    wheel = next(installed.parent.glob("dist/dicom_dedup-*.whl"))
    subprocess.run([str(REPO / "deploy" / "install.sh"), "--root", str(installed),
                    "--no-user", "--python", sys.executable, str(wheel)], check=True,
                   capture_output=True, timeout=900)
    assert config.read_text().endswith("# edited by the site\n")
