"""A population with no duplicates at all: the hard negatives a matcher must leave alone.

Many patients scanned on a handful of devices with identical protocols and image sizes;
every patient has priors of the same procedures over the years, some are scanned twice on the
same day, some have a twin (same surname, birth date and sex, another person) and some a
namesake (same name, another birth date). A third of the studies come from an archive that
kept no acquisition times (as many de-identified archives do), so for an X-ray the header
says nothing that tells one acquisition from another. Every study is a new acquisition of its
own, so a correct matcher flags nothing here but ``repeat`` (the same person, the same
procedure family, inside the look-back window).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pydicom

from dedup.synth.headers import write_study
from dedup.synth.people import Patient, _people, _site
from dedup.synth.seeds import _subseed

#: The protocols every site runs, with the modality that acquires them.
PROTOCOLS: tuple[tuple[str, str], ...] = (
    ("CT", "CT HEAD W/O CONTRAST"), ("CT", "CT CHEST WITH CONTRAST"),
    ("MR", "MR BRAIN W/O CONTRAST"), ("XR", "XR CHEST 2 VIEWS"), ("US", "US ABDOMEN COMPLETE"),
)
_TIMES = ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "AcquisitionDateTime")
_FIRST_DAY = date(2019, 1, 7)
_SPAN_DAYS = 5 * 365


@dataclass(frozen=True, slots=True)
class Population:
    """What :func:`make_population` wrote (``root/<n>-<acquisition>/<8-hex study>/...``)."""

    root: Path
    studies: int  # every acquisition written, same-day repeats included
    patients: int
    same_day_repeats: int  # a second acquisition of the same person the same day
    twins: int  # same surname, birth date and sex as another person
    namesakes: int  # same name as another person, another birth date


def make_population(out: Path, *, patients: int = 300, studies: int = 1000, slices: int = 2,
                    seed: int = 0) -> Population:
    """Write a population of ``studies`` new acquisitions of ``patients`` people.

    Args:
        out: Output folder (created).
        patients: People in the population, 3 to 400 (a tenth of them twins of another, a
            fifteenth namesakes of another).
        studies: Studies in all (at least ``patients``).
        slices: Instances per CT and MR series.
        seed: The same seed gives the same bytes.

    Returns:
        Counts of what was written.

    Raises:
        ValueError: ``patients`` or ``studies`` is out of range.

    """
    if not 3 <= patients <= 400 or studies < patients:
        raise ValueError(f"patients={patients} must be 3..400 and studies={studies} at least "
                         "patients (every person has one study or more)")
    rng = np.random.default_rng(_subseed("population", seed))
    records, twins, namesakes = _records(seed, patients)
    plan = [rng.integers(len(PROTOCOLS)) for _ in range(patients)]  # a usual protocol each
    same_day = 0
    for n in range(studies):
        who = n if n < patients else int(rng.integers(patients))
        patient, site = records[who]
        protocol = int(plan[who]) if rng.random() < 0.7 else int(rng.integers(len(PROTOCOLS)))
        modality, procedure = PROTOCOLS[protocol]
        day = _FIRST_DAY + timedelta(days=int(rng.integers(_SPAN_DAYS)))
        repeat_today = rng.random() < 0.05
        for acquisition in range(2 if repeat_today else 1):
            folder = Path(out) / f"{n:05d}-{acquisition}"
            write_study(folder, modality=modality, patient=patient, institution=site,
                        seed=_subseed("population-study", seed, n, acquisition),
                        study_date=day, slices=slices, procedure=procedure)
            if n % 3 == 0:
                _drop_times(folder)
        same_day += repeat_today
    return Population(Path(out), studies + same_day, patients, same_day, twins, namesakes)


def _drop_times(folder: Path) -> None:
    for path in sorted(folder.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        for keyword in _TIMES:
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(path)


def _records(seed: int, count: int) -> tuple[list[tuple[Patient, str]], int, int]:
    """One (record, home site) per person: people, their twins and their namesakes."""
    people = _people(seed, count)
    records = [(p.home, p.home_site) for p in people]
    twins = namesakes = 0
    for i in range(10, count, 10):  # a twin of the person before: same surname and birthday
        sibling, site = records[i - 1]
        given = records[i][0].name.split("^")[1] if "^" in records[i][0].name else "X"
        name = f"{sibling.name.split('^')[0]}^{given}"
        mrn = _site(site).mrn.format(700_000 + i)
        records[i] = (replace(records[i][0], name=name, birth_date=sibling.birth_date,
                              sex=sibling.sex, patient_id=mrn, issuer=sibling.issuer), site)
        twins += 1
    for i in range(15, count, 15):  # a namesake: same name as another, another birth date
        other, site = records[i - 7]
        mrn = _site(site).mrn.format(600_000 + i)
        born = other.birth_date + timedelta(days=400 + 37 * i)
        records[i] = (replace(records[i][0], name=other.name, birth_date=born, sex=other.sex,
                              patient_id=mrn, issuer=other.issuer), site)
        namesakes += 1
    return records, twins, namesakes
