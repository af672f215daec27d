"""The Orthanc the evaluation starts: it answers on loopback and always stops, group and all."""

from __future__ import annotations

import os

import pytest

from dedup.synth.orthanc import Orthanc, orthanc_binary

pytestmark = pytest.mark.skipif(orthanc_binary() is None,
                                reason="Orthanc not installed (`make system-deps`)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_orthanc_answers_then_is_gone_even_when_the_block_fails() -> None:
    pid = 0
    with pytest.raises(KeyError), Orthanc() as server:
        pid = server.pid
        assert server.get("/system")["Version"]
        assert server.url.startswith("http://127.0.0.1:")
        raise KeyError("the block fails")
    assert pid and not _alive(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing of its process group is left


def test_orthanc_refuses_requests_without_its_password() -> None:
    import urllib.error
    import urllib.request

    with Orthanc() as server, pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.url + "/system", timeout=10)
    assert refused.value.code == 401
