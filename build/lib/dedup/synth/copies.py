"""Duplicates made by third-party tools, for the evaluation (``dedup eval``).

The corpus of :func:`dedup.synth.make_corpus` holds duplicates made by pydicom; a copy made
by dedup's own writer proves little, so the evaluation adds copies made by other software:

* exact: DCMTK ``dcmcrle`` re-encodes a whole study as RLE, same UIDs (a transcoded re-send);
* same-content: ``dicognito`` (PyPI) re-identifies with new UIDs, then GDCM ``gdcmconv --j2k``
  (lossless JPEG 2000) or DCMTK ``dcmcjpeg +e1`` (lossless JPEG) transcodes;
* partial: ``dicognito`` on two of three series, and on one of three;
* near: ``dicognito`` (new UIDs, another name, dates and times shifted, as it does by
  default; once keeping the acquisition times), then a lossy transcoder: GDCM JPEG 2000 at
  quality 80 and at 20:1, DCMTK JPEG at quality 50 (12 bit, and cut to 8 bit), DCMTK
  ``dcmscale`` to half the size;
* inside one archived study (labelled ``(X, kind, X)``): DCMTK ``dcmcjpeg +un`` lossy,
  keeping every UID, the SOP Instance UIDs too (``near``);
* ``deid`` (PyPI) with its default recipe, new UIDs put back (``same-content``);
* a real Orthanc's ``/anonymize`` and ``/modify`` (:mod:`dedup.synth.orthanc_copies`);
* real images that pydicom ships, added to the archive, with a lossless and a lossy copy
  each (:mod:`dedup.synth.shipped`).

The kind of every copy added after the first published figures is what its pixels are
(:func:`~dedup.synth.tools.pixel_kind`). The tools run as subprocesses (deid in-process);
:func:`missing_tools` says which required ones are not installed, :func:`skipped_copies`
which optional ones (Orthanc, deid) are missing and what is skipped without them.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dedup.synth.corpus import Label
from dedup.synth.orthanc import orthanc_binary
from dedup.synth.orthanc_copies import orthanc_copies
from dedup.synth.shipped import add_shipped_studies, shipped_copies
from dedup.synth.tools import (
    anonymise,
    deidentify,
    free_study,
    has_deid,
    pixel_kind,
    studies_by_modality,
    transcode,
    transcode_any,
)

TOOLS = ("dcmcrle", "dcmcjpeg", "dcmcjpls", "gdcmconv", "dcmscale")
NEAR_TOOL = ["gdcmconv", "--j2k", "--lossy", "-q", "80"]
#: What one near copy keeps: the acquisition timing a lossy copy for sharing has.
NEAR_KEEP = ("AcquisitionTime", "ContentTime", "StationName")
#: The near copies: (modality family, which archived study, lossy tool, description); every
#: one re-identified by dicognito with its dates and times shifted.
_NEAR = (
    ("MR", 1, NEAR_TOOL, "GDCM j2k lossy q80"),
    ("CT", 0, ["gdcmconv", "--j2k", "--lossy", "-r", "20"], "GDCM j2k lossy 20:1"),
    ("MR", 2, ["dcmcjpeg", "+ee", "+q", "50"], "DCMTK jpeg q50"),
    ("XR", 0, ["dcmcjpeg", "+eb", "+be", "+q", "50"], "DCMTK jpeg q50, 12 to 8 bit"),
    ("CT", 1, ["dcmscale", "--scale-x-factor", "0.5", "--scale-y-factor", "0.5"],
     "DCMTK dcmscale to half size"),
    ("US", 0, ["dcmcjpeg", "+eb", "+q", "50"], "DCMTK jpeg q50"),
)
#: Lossy transcoders told to keep the SOP Instance UID (DICOM asks for a new one).
_SAME_SOP_LOSSY = ((["dcmcjpeg", "+un", "+ee", "+q", "50"], "DCMTK jpeg q50 (+un)"),
                   (["dcmcjpls", "+un", "+en", "+md", "3"], "DCMTK jpeg-ls near-lossless (+un)"))
#: The same-content copies: (modality family, lossless transcoder, description).
_SAME_CONTENT = (("MR", ["gdcmconv", "--j2k"], "GDCM j2k lossless"),
                 ("CT", ["dcmcjpeg", "+e1"], "DCMTK jpeg lossless"))


def missing_tools() -> list[str]:
    """The third-party tools the evaluation needs that are not installed."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if importlib.util.find_spec("dicognito") is None:
        missing.append("dicognito")
    return missing


def skipped_copies() -> list[str]:
    """A note per optional tool that is missing, naming the copies skipped for it."""
    notes = []
    if orthanc_binary() is None:
        notes.append("Orthanc not installed (Debian package 'orthanc', `make system-deps`): "
                     "its /anonymize and /modify copies are skipped")
    if not has_deid():
        notes.append("deid not installed (`pip install -e '.[eval]'`): its copy is skipped")
    return notes


def third_party(archive_dir: Path, incoming: Path, seed: int,
                labelled: Sequence[Label] = ()) -> list[Label]:
    """Write duplicates made by third-party tools into ``incoming`` (and shipped studies).

    The copies of the first published figures come first, with their seeds unchanged; then
    a lossy copy keeping its SOP Instance UIDs, a deid copy and the Orthanc copies (each
    optional tool that is missing is skipped, see :func:`skipped_copies`); last, pydicom's
    real images join the archive with copies of them.

    Args:
        archive_dir: the corpus archive the copies are made of (shipped studies are added).
        incoming: the corpus incoming folder the copies are written to.
        seed: the corpus seed (each tool run derives its own seed from it).
        labelled: the corpus's own labels (a copy inside a study avoids their studies).

    Returns:
        The labelled duplicates.

    """
    pool = studies_by_modality(archive_dir)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        uid, folder = pool["CT"][-1]
        transcode(folder, incoming / f"tp-exact-{seed}", ["dcmcrle"])
        labels = [Label(uid, "exact", uid, "DCMTK dcmcrle re-send, same UIDs")]
        labels += _same_content(pool, work, incoming, seed)
        labels += _partial(pool, work, incoming, seed)
        uid, folder = pool["MR"][-1]
        new = anonymise(folder, work / "near", f"n{seed}", NEAR_KEEP)
        transcode(work / "near", incoming / f"tp-near-{seed}", NEAR_TOOL)
        labels.append(Label(new, "near", uid, "dicognito keeping acquisition times + GDCM "
                                              "j2k lossy q80"))
        labels += _near(pool, work, incoming, seed)
        labels += _same_sop_lossy(pool, incoming, seed, [*labelled, *labels])
        if has_deid():
            labels += _deid(pool, incoming, seed)
        if orthanc_binary() is not None:
            labels += orthanc_copies(pool, work, incoming, seed, [*labelled, *labels])
        shipped = add_shipped_studies(archive_dir)
        labels += shipped_copies(shipped, work, incoming, seed)
    return labels


def _same_sop_lossy(pool: dict[str, list[tuple[str, Path]]], incoming: Path, seed: int,
                    labels: list[Label]) -> list[Label]:
    """A lossy copy that keeps every UID, the SOP Instance UIDs too: a duplicate in its study."""
    picked = free_study(pool, ("MR", "XR", "US", "CT"), labels)
    if picked is None:
        return []
    uid, folder = picked
    dest = incoming / f"tp-same-sop-{seed}"
    name = transcode_any(folder, dest, list(_SAME_SOP_LOSSY), 0)
    return [Label(uid, pixel_kind(folder, dest), uid, f"{name}, SOP Instance UIDs kept")]


def _deid(pool: dict[str, list[tuple[str, Path]]], incoming: Path, seed: int) -> list[Label]:
    """A copy by deid's default recipe (names, IDs, dates, UIDs removed), new UIDs put back."""
    uid, folder = pool["US"][seed % len(pool["US"])]
    new = deidentify(folder, incoming / f"tp-deid-{seed}")
    kind = pixel_kind(folder, incoming / f"tp-deid-{seed}")
    return [Label(new, kind, uid, "deid default recipe, new UIDs")]


def _partial(pool: dict[str, list[tuple[str, Path]]], work: Path, incoming: Path,
             seed: int) -> list[Label]:
    """Re-identified copies of a subset of the series: two of three, and one of three."""
    labels = []
    for family, series, name in (("MR", ("1", "2"), "2 of 3"), ("CT", ("2",), "1 of 3")):
        uid, folder = pool[family][0]
        subset = work / f"partial-{family}"
        for number in series:
            shutil.copytree(folder / number, subset / number)
        salt = f"p{seed}" if family == "MR" else f"p1{seed}"  # the first is the published one
        new = anonymise(subset, incoming / f"tp-partial-{family}-{seed}", salt)
        labels.append(Label(new, "partial", uid, f"dicognito on {name} series"))
    return labels


def _near(pool: dict[str, list[tuple[str, Path]]], work: Path, incoming: Path,
          seed: int) -> list[Label]:
    """Lossy copies, re-identified with dates and times shifted (only pixels tell)."""
    labels = []
    for n, (family, which, tool, name) in enumerate(_NEAR):
        uid, folder = pool[family][which % len(pool[family])]
        anonymised = work / f"near-{n}"
        new = anonymise(folder, anonymised, f"s{seed}" if n == 0 else f"s{n}-{seed}")
        transcode(anonymised, incoming / f"tp-near-{n}-{seed}", tool)
        labels.append(Label(new, "near", uid, f"dicognito shifting dates and times + {name}"))
    return labels


def _same_content(pool: dict[str, list[tuple[str, Path]]], work: Path, incoming: Path,
                  seed: int) -> list[Label]:
    """Same-content copies: ``dicognito`` with new UIDs, then a lossless transcoder."""
    labels = []
    for n, (family, tool, name) in enumerate(_SAME_CONTENT):
        uid, folder = pool[family][-1 - n % len(pool[family])]
        anonymised = work / f"same-content-{n}"
        # the dicognito seeds are those the published figures were made with
        new = anonymise(folder, anonymised, f"sc{seed}{n}")
        transcode(anonymised, incoming / f"tp-same-content-{n}-{seed}", tool)
        labels.append(Label(new, "same-content", uid, f"dicognito + {name}"))
    return labels
