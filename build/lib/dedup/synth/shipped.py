"""Real images that pydicom ships, as archived studies with third-party copies of them.

Generated pixels share the generator's assumptions; these are real acquisitions (CT, MR, CR,
NM, ultrasound in RGB, YBR and palette colour, multi-frame), present in pydicom's wheel
without any download. Their files are grouped by Study Instance UID into archived studies:
some share a patient (three MR studies of one person on one day, a CR and a CT of another),
none is a copy of another (pydicom's re-encodings of one image are left out), so any flag
between them is false.

Each study gets a copy re-identified by dicognito with new UIDs and transcoded losslessly,
and, unless its images are thumbnails (:data:`MIN_LOSSY_SIDE`), one re-identified and
transcoded lossily after GDCM decoded it (DCMTK reads no JPEG 2000, and GDCM's lossy encoder
refuses to derive from some lossy originals). The transcoder turns with the seed and the
study, and falls to the next when it cannot take a file (JPEG-LS near-lossless takes no
signed pixels, GDCM's lossy JPEG 2000 no palette colour). A copy's label is what its pixels
really are (:func:`~dedup.synth.tools.pixel_kind`): a lossless re-encoding of a lossy
original may decode differently, and is then ``near``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pydicom.data
from pydicom import dcmread

from dedup.synth.corpus import Label
from dedup.synth.seeds import _hex8
from dedup.synth.tools import anonymise, pixel_kind, transcode, transcode_any

#: pydicom test files, by glob pattern under its ``test_files`` folder.
SHIPPED = ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "examples_rgb_color.dcm",
           "examples_palette.dcm", "examples_ybr_color.dcm", "JPEG2000.dcm", "693_J2KI.dcm",
           "J2K_pixelrep_mismatch.dcm", "dicomdirtests/98892001/*/*",
           "dicomdirtests/77654033/*/*", "dicomdirtests/98892003/*/*")
LOSSLESS = ((["gdcmconv", "--j2k"], "GDCM j2k lossless"),
            (["dcmcjpeg", "+e1"], "DCMTK jpeg lossless"),
            (["dcmcjpls"], "DCMTK jpeg-ls lossless"),
            (["dcmcrle"], "DCMTK rle"))
LOSSY = ((["gdcmconv", "--j2k", "--lossy", "-r", "20"], "GDCM j2k lossy 20:1"),
         (["dcmcjpeg", "+eb", "+q", "50"], "DCMTK jpeg q50"),
         (["dcmcjpls", "+en", "+md", "3"], "DCMTK jpeg-ls near-lossless (3)"),
         (["dcmcjpeg", "+ee", "+q", "60"], "DCMTK jpeg 12 bit q60"),
         (["gdcmconv", "--j2k", "--lossy", "-q", "70"], "GDCM j2k lossy q70"))
#: Studies with smaller images (pydicom's 16 x 16 thumbnails of real studies) get no lossy
#: copy: at 16 x 16, four JPEG blocks or a 20:1 JPEG 2000 leave a copy correlating 0.6 to 0.8
#: with its source, no copy a PACS makes of a real image.
MIN_LOSSY_SIDE = 64


def _side(folder: Path) -> int:
    """The shortest side of the study's images."""
    return min(min(int(ds.Rows), int(ds.Columns)) for ds in
               (dcmread(path, stop_before_pixels=True) for path in folder.glob("*.dcm")))


def shipped_files() -> list[Path]:
    """The files of :data:`SHIPPED` inside pydicom's package (never a downloaded one)."""
    wheel = Path(pydicom.data.__file__).resolve().parent
    found = {Path(name).resolve() for pattern in SHIPPED
             for name in pydicom.data.get_testdata_files(pattern)}
    return sorted(path for path in found if path.is_relative_to(wheel) and path.is_file())


@dataclass(frozen=True, slots=True)
class ShippedStudy:
    """One archived study made of shipped files."""

    uid: str
    folder: Path
    source: str  # the first file, relative to pydicom's test files, and how many there are


def add_shipped_studies(archive_dir: Path) -> list[ShippedStudy]:
    """Copy the shipped files into ``archive_dir``, one folder per study, in a stable order."""
    root = Path(pydicom.data.__file__).resolve().parent / "test_files"
    studies: dict[str, list[Path]] = {}
    for path in shipped_files():
        uid = str(dcmread(path, stop_before_pixels=True).StudyInstanceUID)
        studies.setdefault(uid, []).append(path)
    out = []
    for uid, paths in sorted(studies.items()):
        folder = archive_dir / _hex8("shipped", uid)
        folder.mkdir(parents=True, exist_ok=True)
        for n, path in enumerate(paths, 1):
            shutil.copyfile(path, folder / f"{n}.dcm")
        source = f"{paths[0].relative_to(root)}" + (f" and {len(paths) - 1} more"
                                                    if len(paths) > 1 else "")
        out.append(ShippedStudy(uid, folder, source))
    return out


def shipped_copies(studies: list[ShippedStudy], work: Path, incoming: Path,
                   seed: int) -> list[Label]:
    """A lossless and a lossy re-identified copy of each shipped study; their labels."""
    labels = []
    for n, study in enumerate(studies):
        ways = (("lossless", LOSSLESS, "r"), ("lossy", LOSSY, "q"))
        for way, tools, salt in ways if _side(study.folder) >= MIN_LOSSY_SIDE else ways[:1]:
            anonymised = work / f"shipped-{n}-{way}"
            new = anonymise(study.folder, anonymised, f"{salt}{seed}-{n}")
            if way == "lossy":  # GDCM decodes first: a lossy encoder rarely reads JPEG 2000
                transcode(anonymised, work / f"shipped-{n}-raw", ["gdcmconv", "--raw"])
                anonymised = work / f"shipped-{n}-raw"
            dest = incoming / f"tp-shipped-{n}-{way}-{seed}"
            tool = transcode_any(anonymised, dest, list(tools), seed + n)
            kind = pixel_kind(study.folder, dest)
            changed = " (decoded otherwise than pydicom does)" if way == "lossless" and \
                kind == "near" else ""
            labels.append(Label(new, kind, study.uid,
                                f"pydicom {study.source} (real), dicognito + {tool}{changed}"))
    return labels
