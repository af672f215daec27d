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
  ``dcmscale`` to half the size.

The tools run as subprocesses; :func:`missing_tools` says which are not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pydicom import dcmread

from dedup.synth.corpus import Label

TOOLS = ("dcmcrle", "dcmcjpeg", "gdcmconv", "dcmscale")
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
#: The same-content copies: (modality family, lossless transcoder, description).
_SAME_CONTENT = (("MR", ["gdcmconv", "--j2k"], "GDCM j2k lossless"),
                 ("CT", ["dcmcjpeg", "+e1"], "DCMTK jpeg lossless"))


def missing_tools() -> list[str]:
    """The third-party tools the evaluation needs that are not installed."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if importlib.util.find_spec("dicognito") is None:
        missing.append("dicognito")
    return missing


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def studies_by_modality(archive_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """Archived study folders by modality family (CR and DX are XR), in folder order."""
    out: dict[str, list[tuple[str, Path]]] = {}
    for folder in sorted(p for p in archive_dir.iterdir() if p.is_dir()):
        ds = dcmread(next(folder.rglob("*.dcm")), stop_before_pixels=True)
        family = {"CR": "XR", "DX": "XR"}.get(ds.Modality, ds.Modality)
        out.setdefault(family, []).append((ds.StudyInstanceUID, folder))
    return out


def anonymise(src: Path, dest: Path, seed: str, keep: Iterable[str] = ()) -> str:
    """Run dicognito with new UIDs (consistent within the call); return the new study UID.

    ``keep`` names elements to retain. dicognito shifts every date together with its time
    (``AcquisitionDate`` moves ``AcquisitionTime``), so ``--keep AcquisitionTime`` alone is
    overridden; a kept ``...Time`` therefore keeps its ``...Date`` too.
    """
    kept = list(dict.fromkeys(keep))
    kept += [name[:-4] + "Date" for name in kept
             if name.endswith("Time") and name[:-4] + "Date" not in kept]
    args = [sys.executable, "-m", "dicognito", "--quiet", "--seed", seed, "-o", str(dest)]
    for element in kept:
        args += ["--keep", element]
    _run(*args, str(src))
    return str(dcmread(next(dest.rglob("*.dcm")), stop_before_pixels=True).StudyInstanceUID)


def transcode(src: Path, dest: Path, tool: list[str]) -> None:
    """Run a command-line transcoder (``tool IN OUT``) on every file of a folder tree."""
    for path in sorted(src.rglob("*.dcm")):
        out = dest / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        _run(*tool, str(path), str(out))


def third_party(archive_dir: Path, incoming: Path, seed: int) -> list[Label]:
    """Write duplicates made by DCMTK, GDCM and dicognito into ``incoming``.

    Args:
        archive_dir: the corpus archive the copies are made of.
        incoming: the corpus incoming folder the copies are written to.
        seed: the corpus seed (each tool run derives its own seed from it).

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
    return labels


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
