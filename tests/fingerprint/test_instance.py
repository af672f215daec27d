"""dedup.fingerprint.instance: results come back from a worker exactly as they were made."""

from __future__ import annotations

import pickle
from pathlib import Path

from dedup.config import Settings
from dedup.fingerprint.instance import fingerprint_location, fingerprint_many, unpack
from dedup.records import Instance, Location, Quarantined
from dedup.synth import write_bad_inputs
from tests.conftest import shipped, synthetic_study


def test_packed_results_unpack_to_what_the_worker_made(tmp_path: Path) -> None:
    paths = [*synthetic_study(tmp_path / "mr", seed=3), shipped("SC_rgb_rle.dcm"),
             *sorted(p for p in write_bad_inputs(tmp_path / "bad").values() if p.is_file())]
    locations = [Location(str(p), None, p.stat().st_size, p.stat().st_mtime) for p in paths]
    made = [fingerprint_location(location, Settings()) for location in locations]
    assert {type(r) for r in made} == {Instance, Quarantined}
    sent = pickle.dumps(fingerprint_many(locations, Settings()))
    assert [unpack(packed) for packed in pickle.loads(sent)] == made
