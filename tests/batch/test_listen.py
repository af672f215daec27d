"""``dedup listen`` as a real subprocess, fed by DCMTK's storescu over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import JPEGLSLossless

from dedup.batch.listen import QuietStudies
from dedup.synth.tools import anonymise, study_uid, transcode
from tests.conftest import dedup_cli, index_json
from tests.listener import SENDER, Listener, acknowledged, storescu, storescu_background
from tests.orphans import survivors
from tests.pacs import PASSWORD, PASSWORD_ENV, USER, OrthancServer, write_studies

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two studies, and a re-identified copy of the first stored as JPEG-LS lossless."""
    root = tmp_path_factory.mktemp("listen-studies")
    first, second = write_studies(root / "originals", 2, seed=300)
    anonymise(first, root / "anonymised", "listen-copy")
    transcode(root / "anonymised", root / "copy", ["dcmcjpls"])
    return {"first": first, "second": second, "copy": root / "copy"}


MakeListener = Callable[..., Listener]


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[MakeListener]:
    """A listener (started by the test), stopped afterwards; nothing of it may survive."""
    made: list[Listener] = []

    def make(**kwargs: Any) -> Listener:
        made.append(Listener(tmp_path / f"listen{len(made)}", **kwargs))
        return made[-1]

    yield make
    for one in made:
        if one.process is not None and one.process.poll() is None:
            one.stop(kill=True)
        assert survivors(one.mark, end=True) == []


def _duplicates(archive: Path) -> list[dict[str, object]]:
    return json.loads(dedup_cli("duplicates", "-a", str(archive), "--format", "json").stdout)


def test_studies_are_indexed_and_a_copy_sent_later_is_found(
        studies: dict[str, Path], listener: MakeListener) -> None:
    server = listener().start()
    for name in ("first", "second"):
        assert storescu(studies[name], server.port).returncode == 0
    server.wait_for(r"indexed \d+ studies", count=1)
    sent = storescu(studies["copy"], server.port, propose=("-xt",))  # stored as JPEG-LS
    assert sent.returncode == 0, sent.stderr
    assert len(acknowledged(sent.stdout + sent.stderr)) == 6
    syntaxes = {str(dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID)
                for p in server.spooled()}
    assert JPEGLSLossless in syntaxes  # stored as received, not transcoded
    lines = server.wait_for(r"duplicate: study \d+ is same-content of study \d+")
    assert "1.2." not in "".join(lines)  # study keys, never UIDs
    assert server.stop() == 0
    rows = _duplicates(server.archive)
    assert [(r["kind"], r["study_uid"], r["duplicate_of_study_uid"]) for r in rows] == [
        ("same-content", study_uid(studies["copy"]), study_uid(studies["first"]))]
    assert "Traceback" not in server.text()


def test_a_copy_is_flagged_on_the_orthanc_that_holds_it(
        studies: dict[str, Path], listener: MakeListener, tmp_path: Path) -> None:
    pacs = OrthancServer(tmp_path / "orthanc", metadata={"DedupFinding": 1024}).start()
    try:
        pacs.upload(studies["copy"])  # the router sends to the PACS and to dedup
        extra = (f'writeback_url = "{pacs.url}"\nwriteback_username = "{USER}"\n'
                 f'writeback_password_env = "{PASSWORD_ENV}"')
        server = listener(extra=extra, env={PASSWORD_ENV: PASSWORD}).start()
        assert storescu(studies["first"], server.port).returncode == 0
        server.wait_for(r"indexed 1 studies")
        assert storescu(studies["copy"], server.port, propose=("-xt",)).returncode == 0
        server.wait_for(r"written back: 1 of 1 findings")
        assert server.stop() == 0
        [found] = pacs._request("POST", "/tools/lookup", study_uid(studies["copy"]).encode())
        flag = pacs.get(f"/studies/{found['ID']}/metadata/DedupFinding")
        assert flag == {"kind": "same-content", "duplicate_of": study_uid(studies["first"]),
                        "score": 1.0}
    finally:
        pacs.stop()


def test_a_study_resent_is_an_exact_duplicate(
        studies: dict[str, Path], listener: MakeListener) -> None:
    server = listener().start()
    assert storescu(studies["second"], server.port).returncode == 0
    server.wait_for(r"indexed 1 studies .* 6 new instances")
    assert storescu(studies["second"], server.port).returncode == 0
    server.wait_for(r"duplicate: study \d+ is exact of study \d+")
    assert server.stop() == 0
    assert len(server.spooled()) == 12  # a re-send never overwrites the first copy


def test_calling_ae_titles_not_allowed_are_rejected(
        studies: dict[str, Path], listener: MakeListener) -> None:
    server = listener(allowed=f"{SENDER}, PINNED@10.0.0.9").start()
    for aet in ("INTRUDER", "PINNED"):  # unknown; known but from another address
        refused = storescu(studies["first"], server.port, aet=aet)
        assert refused.returncode != 0
        assert "Calling AE Title Not Recognized" in refused.stdout + refused.stderr
    assert server.spooled() == []
    assert len(server.wait_for("rejected: calling AE title not allowed", count=2)) == 2
    assert storescu(studies["first"], server.port).returncode == 0
    assert server.stop() == 0


def test_kill_9_mid_send_loses_nothing_acknowledged(
        tmp_path: Path, listener: MakeListener) -> None:
    write_studies(tmp_path / "many", 6, seed=500, slices=4)  # 72 instances
    server = listener(idle=0.3, workers=2).start()
    sender = storescu_background(tmp_path / "many", server.port, tmp_path / "storescu.log")
    deadline = time.monotonic() + 60
    while len(server.spooled()) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop(kill=True)
    sender.wait(60)
    assert survivors(server.mark) == []  # workers and fork server die with it
    acked = acknowledged((tmp_path / "storescu.log").read_text())
    assert 0 < len(acked) < 72, "the kill did not land mid-send"
    spooled = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID)
               for p in server.spooled()}
    assert {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in acked} <= spooled

    server.start()
    server.wait_for(r"indexed \d+ studies")
    assert server.stop() == 0
    again = index_json(str(server.spool), "-a", str(server.archive), "--workers", "1")
    assert again["instances"] == 0 and again["skipped"] == len(server.spooled())


def test_quiet_studies_are_due_after_the_idle_time_longest_quiet_first() -> None:
    now = [100.0]
    quiet = QuietStudies(clock=lambda: now[0])
    quiet.arrived(Path("a"))
    now[0] = 101.0
    quiet.arrived(Path("b"))
    quiet.arrived(Path("old"), at=float("-inf"))
    assert quiet.due(idle=1.5, limit=10) == [Path("old")]
    now[0] = 102.0
    assert quiet.due(idle=1.5, limit=10) == [Path("a")]
    quiet.again([Path("a")])
    assert quiet.waiting() == 2
    now[0] = 104.0
    assert quiet.due(idle=1.5, limit=1) == [Path("b")]
    assert quiet.due(idle=1.5, limit=1) == [Path("a")]
    assert quiet.waiting() == 0
