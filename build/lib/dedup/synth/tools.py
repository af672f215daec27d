"""Running the third-party tools the evaluation's copies are made with, and judging their pixels.

Command-line transcoders (DCMTK, GDCM) and ``dicognito`` run as subprocesses; ``deid`` is a
library and runs in-process with its prints kept off stdout. :func:`pixel_kind` says what a
copy's pixels really are against its source (pydicom decodes both), so a label never claims
``same-content`` for a copy whose decoder changed a pixel.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydicom import dcmread

from dedup.synth.corpus import Label

#: deid's default recipe removes every UID; these lines give new ones instead (the same
#: original always maps to the same new UID) and keep what says what the object is.
_DEID_UIDS = """
KEEP SOPClassUID
REPLACE StudyInstanceUID deid_func:pydicom_uuid
REPLACE SeriesInstanceUID deid_func:pydicom_uuid
REPLACE SOPInstanceUID deid_func:pydicom_uuid
REPLACE FrameOfReferenceUID deid_func:pydicom_uuid
"""


def has_deid() -> bool:
    """Whether the ``deid`` package is installed."""
    return importlib.util.find_spec("deid") is not None


def run(*cmd: str) -> None:
    """Run a command; raise ``subprocess.CalledProcessError`` (with its output) on failure."""
    subprocess.run(cmd, check=True, capture_output=True)


def studies_by_modality(archive_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """Archived study folders by modality family (CR and DX are XR), in folder order."""
    out: dict[str, list[tuple[str, Path]]] = {}
    for folder in sorted(p for p in archive_dir.iterdir() if p.is_dir()):
        ds = dcmread(next(folder.rglob("*.dcm")), stop_before_pixels=True)
        family = {"CR": "XR", "DX": "XR"}.get(ds.Modality, ds.Modality)
        out.setdefault(family, []).append((ds.StudyInstanceUID, folder))
    return out


def free_study(pool: dict[str, list[tuple[str, Path]]], families: Iterable[str],
               labels: Iterable[Label]) -> tuple[str, Path] | None:
    """The last archived study of the first family that has one without a copy inside it.

    A copy made inside a study is labelled ``(X, kind, X)``; two of them in one study could
    not be told apart, nor from a re-sent copy of it, so each study gets at most one.
    """
    taken = {label.study_uid for label in labels if label.study_uid == label.duplicate_of}
    for family in families:
        for uid, folder in reversed(pool.get(family, [])):
            if uid not in taken:
                return uid, folder
    return None


def study_uid(folder: Path) -> str:
    """The Study Instance UID of the first file under ``folder``."""
    return str(dcmread(next(folder.rglob("*.dcm")), stop_before_pixels=True).StudyInstanceUID)


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
    run(*args, str(src))
    return study_uid(dest)


def deidentify(src: Path, dest: Path) -> str:
    """De-identify with deid's default recipe plus new UIDs; return the new study UID.

    The default recipe removes names, IDs, dates, times and every UID; ``_DEID_UIDS`` puts
    new UIDs back so the copy is still a valid study. Files keep their relative paths.
    """
    from deid.config import DeidRecipe
    from deid.dicom import replace_identifiers

    recipe_file = dest.parent / f"{dest.name}.deid"
    recipe_file.write_text("FORMAT dicom\n\n%header\n" + _DEID_UIDS)
    files = sorted(src.rglob("*.dcm"))
    with contextlib.redirect_stdout(io.StringIO()):  # deid prints function arguments
        recipe = DeidRecipe([str(recipe_file)], base=True)
        cleaned = replace_identifiers([str(p) for p in files], deid=recipe, save=False)
    recipe_file.unlink()
    for path, ds in zip(files, cleaned, strict=True):
        out = dest / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(out)
    return study_uid(dest)


def transcode(src: Path, dest: Path, tool: list[str]) -> None:
    """Run a command-line transcoder (``tool IN OUT``) on every file of a folder tree."""
    for path in sorted(src.rglob("*.dcm")):
        out = dest / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        run(*tool, str(path), str(out))


def transcode_any(src: Path, dest: Path, tools: list[tuple[list[str], str]],
                  start: int) -> str:
    """Transcode with the first tool, from ``start`` round the list, that takes every file.

    Returns:
        The description of the tool that made the copy.

    Raises:
        subprocess.CalledProcessError: when no tool takes them all.

    """
    failure: subprocess.CalledProcessError | None = None
    for n in range(len(tools)):
        tool, name = tools[(start + n) % len(tools)]
        try:
            transcode(src, dest, tool)
            return name
        except subprocess.CalledProcessError as error:
            shutil.rmtree(dest, ignore_errors=True)
            failure = error
    assert failure is not None, "transcode_any needs at least one tool"
    raise failure


def _digests(folder: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in folder.rglob("*.dcm"):
        arr = np.asarray(dcmread(path).pixel_array)
        out[hashlib.sha1(repr(arr.shape).encode() + arr.astype(np.int64).tobytes()
                         ).hexdigest()] += 1
    return out


def pixel_kind(src: Path, copy: Path) -> str:
    """``same-content`` when both folders decode to the same images (any order), else ``near``."""
    return "same-content" if _digests(src) == _digests(copy) else "near"
