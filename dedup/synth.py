"""Deterministic synthetic DICOM corpus generator for the demo, tests and benchmarks.

Everything derives from a seed: names are invented (never real people), pixels are numpy
phantoms (CT, MR, XR, US) with structure and noise, UIDs come from
``pydicom.uid.generate_uid(entropy_srcs=...)``. The same seed always gives the same bytes.

Layout written by :func:`make_corpus`::

    out/archive/<8-hex study>/<series number>/<instance number>.dcm
    out/incoming/<8-hex study>/<series number>/<instance number>.dcm

Folder names never reveal the injected duplicate kind; the ground truth is
:attr:`Corpus.labels` (see :func:`write_labels`). Transfer syntaxes: the archive is Explicit
VR Little Endian (Implicit VR for "Klinikum Nord"); in the incoming batch, new acquisitions
are Explicit VR, exact copies keep the archived bytes, same-content copies are RLE Lossless
(CT), JPEG 2000 Lossless (MR) and Explicit VR (US), near copies are JPEG 2000 lossy (CT, MR)
or downsampled x2 and re-upsampled in Explicit VR (XR, US).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.pixels import get_encoder
from pydicom.uid import (
    JPEG2000,
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    MRImageStorage,
    RLELossless,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

ALL_KINDS: tuple[str, ...] = ("exact", "same-content", "partial", "near", "repeat")
"""Duplicate kinds :func:`make_corpus` can inject (negatives are controlled separately)."""
LABEL_KINDS: tuple[str, ...] = (*ALL_KINDS, "negative")
INSTITUTIONS: tuple[str, ...] = ("St. Mary Hospital", "Klinikum Nord", "Riverside Imaging Center")


@dataclass(frozen=True, slots=True)
class Patient:
    """One patient record at one institution.

    Attributes:
        name: DICOM PN value, e.g. ``"MUELLER^HANS"`` or ``"Müller^Hans"``.
        patient_id: The institution's MRN.
        issuer: IssuerOfPatientID of the institution.
        birth_date: Date of birth.
        sex: ``"M"``, ``"F"`` or ``"O"``.
        person: Ground-truth identity of the invented human. It seeds the anatomy, so two
            records of the same person get the same phantom.

    """

    name: str
    patient_id: str
    issuer: str
    birth_date: date
    sex: str
    person: int = 0


@dataclass(frozen=True, slots=True)
class Label:
    """Ground truth for one study of the incoming batch."""

    study_uid: str
    kind: str
    duplicate_of: str | None
    note: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """A generated corpus: archive, incoming batch and ground truth (files/bytes: both parts)."""

    archive_dir: Path
    incoming_dir: Path
    labels: tuple[Label, ...]
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class _Site:
    issuer: str
    mrn: str
    unicode_names: bool
    xr_modality: str
    syntax: str
    station: str
    codes: bool
    ct12: bool = False


@dataclass(frozen=True, slots=True)
class _Proc:
    family: str
    body: str
    region: str
    code: str
    series: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Acq:
    shift: tuple[float, float]
    dt: float
    noise: int
    z0: float
    wide: bool


_EXPLICIT = ExplicitVRLittleEndian
_SITES = {
    "St. Mary Hospital": _Site("STMARY", "SM{:07d}", False, "DX", _EXPLICIT, "SMH", True, True),
    "Klinikum Nord": _Site("KLINORD", "KN-{:06d}", True, "CR", ImplicitVRLittleEndian, "KLN", True),
    "Riverside Imaging Center": _Site("RIVERSIDE", "R{:08d}", False, "DX", _EXPLICIT, "RIC", False),
}
_OTHER_SITE = _Site("OTHER", "X{:07d}", True, "CR", ExplicitVRLittleEndian, "OTH", False)
_CT = (("AXIAL 5.0 SOFT TISSUE", "soft"), ("AXIAL 5.0 BONE", "bone"), ("AXIAL 2.5 THIN", "thin"))
_BRAIN = (("AX T1 SE", "T1"), ("AX T2 TSE", "T2"), ("AX FLAIR", "FLAIR"))
_SPINE = (("SAG T1 TSE", "T1"), ("SAG T2 TSE", "T2"), ("SAG STIR", "STIR"))
_PROCS = {
    "CT HEAD W/O CONTRAST": _Proc("CT", "HEAD", "head", "CT1001", _CT),
    "CT CHEST WITH CONTRAST": _Proc("CT", "CHEST", "chest", "CT2002", _CT),
    "CT ABDOMEN PELVIS": _Proc("CT", "ABDOMENPELVIS", "abdomen", "CT3003", _CT),
    "MR BRAIN W/O CONTRAST": _Proc("MR", "BRAIN", "brain", "MR1001", _BRAIN),
    "MR L-SPINE": _Proc("MR", "LSPINE", "spine", "MR4004", _SPINE),
    "XR CHEST 2 VIEWS": _Proc("XR", "CHEST", "chest", "XR2002", (("PA", "PA"), ("LAT", "LL"))),
    "US ABDOMEN COMPLETE": _Proc("US", "ABDOMEN", "abdomen", "US3001", (("ABDOMEN", "abd"),)),
}
PROCEDURES: tuple[str, ...] = tuple(_PROCS)
_FAMILY = {"CT": "CT", "MR": "MR", "CR": "XR", "DX": "XR", "XR": "XR", "US": "US"}
_VENDORS = {
    "CT": (("SIEMENS", "SOMATOM Definition AS"), ("GE MEDICAL SYSTEMS", "Revolution CT"),
           ("Philips", "Ingenuity CT")),
    "MR": (("SIEMENS", "MAGNETOM Skyra"), ("GE MEDICAL SYSTEMS", "SIGNA Premier"),
           ("Philips", "Ingenia")),
    "XR": (("Carestream Health", "DRX-Evolution"), ("FUJIFILM Corporation", "FDR Go"),
           ("Agfa", "DX-D 600")),
    "US": (("GE Healthcare", "LOGIQ E10"), ("Philips", "EPIQ 7"), ("SIEMENS", "ACUSON Sequoia")),
}  # fmt: skip
_SURNAMES = (
    "Müller", "Schröder", "Weiß", "Jäger", "Böhm", "Krüger", "Hoffmann", "Becker", "Novak",
    "Lindqvist", "Okafor", "Moreau", "Castillo", "Brennan", "Hartley", "Vogel", "Kowalski",
    "Tanaka", "Marsh", "Delgado",
)  # fmt: skip
_GIVEN = {
    "M": ("Hans", "Jürgen", "Karl", "Lukas", "Tomas", "Peter", "Daniel", "Samuel", "Felix", "Ole"),
    "F": ("Anna", "Lena", "Sophie", "Marta", "Claire", "Ingrid", "Nora", "Elena", "Grace", "Hanna"),
}
_MIDDLE = {"M": ("J", "Friedrich", "Wilhelm", "", ""), "F": ("Maria", "Anne", "J", "", "")}
_DOCTORS = ("Brandt^Elke^^Dr.", "Haas^Tobias^^Dr.", "OKONKWO^RITA^^DR", "Fischer^Björn^^Dr.")
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "AE", "Ö": "OE"})
_MR_LUT: dict[str, dict[str, tuple[int, ...]]] = {  # tissue label -> signal per sequence
    "brain": {"T1": (0, 1400, 80, 620, 900, 220), "T2": (0, 900, 60, 850, 550, 2000),
              "FLAIR": (0, 700, 60, 800, 600, 120)},
    "spine": {"T1": (0, 1500, 450, 750, 420, 250, 550), "T2": (0, 1000, 350, 550, 1300, 1900, 650),
              "STIR": (0, 120, 300, 250, 1100, 2000, 500)},
}  # fmt: skip
_MONO = "MONOCHROME2"
Shapes = list[tuple[float, float, float, float, float]]  # (value, cx, cy, half-x, half-y) in mm


def _subseed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def _uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _hex8(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:8]


def _site(name: str) -> _Site:
    return _SITES.get(name, _OTHER_SITE)


def _cap(t: float, centre: float, half: float) -> float:
    return float(np.sqrt(max(0.0, 1.0 - ((t - centre) / half) ** 2)))


def _grid(shape: tuple[int, int], spacing: float, shift: tuple[float, float]) -> tuple[Any, Any]:
    h, w = shape
    x = ((np.arange(w, dtype=np.float32) - w / 2) * spacing - shift[0])[None, :]
    y = ((np.arange(h, dtype=np.float32) - h / 2) * spacing - shift[1])[:, None]
    return x, y


def _paint(x: np.ndarray, y: np.ndarray, background: float, shapes: Shapes) -> np.ndarray:
    img = np.full((y.shape[0], x.shape[1]), background, np.float32)
    xs, ys = x[0], y[:, 0]  # both increasing
    for value, cx, cy, ax, ay in shapes:
        if ax > 0.5 and ay > 0.5:  # evaluate the ellipse inside its bounding box only
            c0, c1 = np.searchsorted(xs, [cx - ax, cx + ax])
            r0, r1 = np.searchsorted(ys, [cy - ay, cy + ay])
            inside = ((xs[c0:c1] - cx) / ax) ** 2 + ((ys[r0:r1, None] - cy) / ay) ** 2 <= 1.0
            img[r0:r1, c0:c1][inside] = value
    return img


def _blur(img: np.ndarray, r: int) -> np.ndarray:
    for axis in (0, 1):
        a = np.moveaxis(img, axis, 0)
        c = np.cumsum(np.pad(a, ((r + 1, r), (0, 0)), mode="edge"), axis=0, dtype=np.float64)
        img = np.moveaxis((c[2 * r + 1 :] - c[: -2 * r - 1]) / (2 * r + 1), 0, axis)
    return img.astype(np.float32)


def _upsample(small: np.ndarray, n: int, cell: int, axis: int) -> np.ndarray:
    pos = np.arange(n, dtype=np.float32) / cell  # linear interpolation along one axis
    i = pos.astype(np.intp)
    f = np.expand_dims((pos - i).astype(np.float32), 1 - axis)
    return np.take(small, i, axis) * (1 - f) + np.take(small, i + 1, axis) * f


def _texture(seed: int, shape: tuple[int, int], cell: int, roll: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.standard_normal((shape[0] // cell + 2, shape[1] // cell + 2), dtype=np.float32)
    smooth = _upsample(_upsample(small, shape[0], cell, 0), shape[1], cell, 1)
    return np.roll(smooth, roll, axis=(0, 1))


def _anatomy(person: int) -> np.ndarray:
    return np.random.default_rng(_subseed("anatomy", person)).uniform(0.9, 1.1, 8)


def _acquisition(seed: int, institution: str) -> _Acq:
    rng = np.random.default_rng(_subseed("acquisition", seed))
    dx, dy = rng.uniform(1.5, 5.0, 2) * rng.choice([-1.0, 1.0], 2)
    wide = not _site(institution).ct12  # CT BitsStored 16 with intercept -1024, else 12 and 0
    return _Acq((float(dx), float(dy)), float(rng.uniform(-0.03, 0.03)),
                int(rng.integers(2**62)), float(rng.uniform(-400.0, -100.0)), wide)  # fmt: skip


def _ct_shapes(region: str, t: float, a: np.ndarray) -> Shapes:
    if region == "head":
        s, v, b = _cap(t, 0.45, 0.75), _cap(t, 0.6, 0.2), _cap(t, 0.12, 0.15)
        return [(30, 0, 0, 78 * s * a[0], 98 * s * a[1]),
                (1100, 0, 0, 73 * s * a[0], 93 * s * a[1]),
                (38, 0, 2, 66 * s * a[0], 85 * s * a[1]), (28, 0, 4, 50 * s * a[2], 66 * s * a[3]),
                (6, -9 * a[4], -6, 6 * v, 24 * v), (6, 9 * a[4], -6, 6 * v, 24 * v),
                (1100, 0, 30, 40 * b, 18 * b), (-900, 0, -70 * s, 14 * b, 10 * b)]  # fmt: skip
    if region == "chest":
        lung, heart = _cap(t, 0.55, 0.6), _cap(t, 0.65, 0.3)
        return [(-100, 0, 0, 165 * a[0], 115 * a[1]), (40, 0, 0, 150 * a[0], 100 * a[1]),
                (800, 0, 5, 140 * a[0], 92 * a[1]), (40, 0, 5, 133 * a[0], 86 * a[1]),
                (-850, -72 * a[2], -5, 55 * lung * a[3], 78 * lung),
                (-850, 72 * a[2], -5, 52 * lung, 76 * lung),
                (150, 22, -18, 50 * heart * a[4], 42 * heart), (170, -18, 38, 13 * a[5], 13 * a[5]),
                (700, 0, 72, 18, 16), (20, 0, 95, 7, 7)]  # fmt: skip
    liver, kid, pel = _cap(t, 0.95, 0.5), _cap(t, 0.55, 0.22), _cap(t, 0.05, 0.3)
    return [(-100, 0, 0, 170 * a[0], 125 * a[1]), (40, 0, 0, 155 * a[0], 110 * a[1]),
            (65, -60, -5, 85 * liver * a[2], 70 * liver * a[3]),
            (55, 85, 20, 32 * liver, 48 * liver), (160, -60, 48, 26 * kid * a[4], 36 * kid),
            (160, 62, 48, 26 * kid * a[4], 36 * kid), (-900, 60 * a[6] - 40, -45, 9, 7),
            (-900, -25, -70 * a[7], 6, 6), (170, -10, 42, 11, 11), (700, 0, 72, 20, 18),
            (700, -95, 40, 45 * pel, 22 * pel), (700, 95, 40, 45 * pel, 22 * pel)]  # fmt: skip


def _ct_series(proc: _Proc, variant: str, spacing: float, acq: _Acq) -> dict[str, Any]:
    window = {"soft": (40, 80 if proc.region == "head" else 400), "bone": (500, 2000),
              "thin": (-600, 1500) if proc.region == "chest" else (40, 400)}  # fmt: skip
    return {"ImageOrientationPatient": [1, 0, 0, 0, 1, 0], "PixelSpacing": [round(spacing, 6)] * 2,
            "SliceThickness": 2.5 if variant == "thin" else 5.0,
            "BitsStored": 16 if acq.wide else 12,
            "RescaleIntercept": -1024 if acq.wide else 0, "RescaleSlope": 1, "RescaleType": "HU",
            "WindowCenter": window[variant][0], "WindowWidth": window[variant][1], "KVP": 120,
            "ConvolutionKernel": "B70f" if variant == "bone" else "B30f", "PatientPosition": "HFS",
            "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"], "PhotometricInterpretation": _MONO}


def _ct_images(
    proc: _Proc, variant: str, n: int, anat: np.ndarray, acq: _Acq, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    fov = 240.0 if proc.region == "head" else 380.0
    spacing, sigma = fov / 512, {"soft": 8.0, "bone": 30.0, "thin": 14.0}[variant]
    lo, hi = (0.25, 0.75) if variant == "thin" else (0.0, 1.0)
    series = _ct_series(proc, variant, spacing, acq)
    intercept, limit = series["RescaleIntercept"], 2 ** (series["BitsStored"] - 1)
    x, y = _grid((512, 512), spacing, acq.shift)
    roll = (round(acq.shift[1] / spacing), round(acq.shift[0] / spacing))
    tex = _texture(_subseed("tex", anat.tobytes()), (512, 512), 16, roll)
    tex *= 4 if proc.region == "head" else 12
    for i in range(n):
        t = lo + (hi - lo) * i / max(n - 1, 1)
        hu = _paint(x, y, -1000.0, _ct_shapes(proc.region, t + acq.dt, anat))
        hu += tex * (hu > -500) + rng.standard_normal((512, 512), dtype=np.float32) * sigma
        z = round(acq.z0 - t * 5.0 * max(n - 1, 1), 2)
        pos = {"ImagePositionPatient": [-fov / 2, -fov / 2, z], "SliceLocation": z}
        stored = np.clip(np.rint(hu - intercept), -limit, limit - 1).astype(np.int16)
        yield stored, series | pos


def _mr_shapes(region: str, t: float, a: np.ndarray) -> Shapes:
    if region == "brain":  # labels: 1 scalp, 2 skull, 3 grey, 4 white, 5 csf
        s, v = _cap(t, 0.45, 0.75), _cap(t, 0.6, 0.2)
        return [(1, 0, 0, 78 * s * a[0], 98 * s * a[1]), (2, 0, 0, 73 * s * a[0], 93 * s * a[1]),
                (3, 0, 2, 66 * s * a[0], 85 * s * a[1]), (4, 0, 4, 50 * s * a[2], 66 * s * a[3]),
                (5, -9 * a[4], -6, 6 * v, 24 * v), (5, 9 * a[4], -6, 6 * v, 24 * v)]  # fmt: skip
    w, m = _cap(t, 0.5, 0.6), _cap(t, 0.5, 0.25)  # 1 fat, 2 muscle, 3 bone, 4 disc, 5 csf, 6 cord
    shapes: Shapes = [(1, 10, 0, 160, 400), (2, 5, 0, 140 * a[0], 400), (3, 45, 0, 14 * w, 300),
                      (5, 22, 0, 7 * m, 400), (6, 22, -60, 3 * m, 60)]  # fmt: skip
    for k in range(6):
        cy = -125 + k * 46 * a[1]
        shapes += [(3, -20, cy, 30 * w * a[2], 19), (4, -20, cy + 23 * a[1], 28 * w, 4.5)]
    return shapes


def _mr_images(
    proc: _Proc, variant: str, n: int, anat: np.ndarray, acq: _Acq, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    brain, t1 = proc.region == "brain", variant == "T1"
    fov = 240.0 if brain else 300.0
    x, y = _grid((256, 256), fov / 256, acq.shift)
    lut = np.array(_MR_LUT[proc.region][variant], np.float32)
    bias = 1.0 + 0.08 * _texture(acq.noise % 2**31, (256, 256), 64, (0, 0))
    series = {"ImageOrientationPatient": [1, 0, 0, 0, 1, 0] if brain else [0, 1, 0, 0, 0, -1],
              "PixelSpacing": [fov / 256] * 2, "SliceThickness": 5.0 if brain else 4.0,
              "BitsStored": 12, "WindowCenter": 800, "WindowWidth": 1600, "PatientPosition": "HFS",
              "MagneticFieldStrength": 3, "ScanningSequence": "SE", "SequenceVariant": "SK",
              "EchoTime": 12 if t1 else 95, "RepetitionTime": 550 if t1 else 4000,
              "ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"], "PhotometricInterpretation": _MONO}
    for i in range(n):
        t = i / max(n - 1, 1)
        labels = _paint(x, y, 0, _mr_shapes(proc.region, t + acq.dt, anat)).astype(np.intp)
        n1, n2 = rng.standard_normal((2, 256, 256), dtype=np.float32) * 20
        pixels = np.clip(np.hypot(lut[labels] * bias + n1, n2), 0, 4095).astype(np.uint16)
        z = round(acq.z0 + 6 * i, 2)
        pos = [-fov / 2, -fov / 2, z] if brain else [round(40 * t - 20, 2), -fov / 2, fov / 2]
        location = pos[2] if brain else pos[0]
        yield pixels, series | {"ImagePositionPatient": pos, "SliceLocation": location}


def _xr_images(
    proc: _Proc, variant: str, n: int, anat: np.ndarray, acq: _Acq, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    half, a = (512, 512 if variant == "PA" else 448), anat  # anatomy at half resolution
    x, y = _grid(half, 0.7, acq.shift)
    if variant == "PA":
        shapes: Shapes = [(1800, 0, 40, 175 * a[0], 300),
                          (700, -75 * a[1], -10, 62 * a[2], 120 * a[3]),
                          (700, 75 * a[1], -10, 60 * a[2], 118 * a[3]), (2400, 0, -40, 28, 150),
                          (2500, 20, 70, 70 * a[4], 58), (2900, 0, 0, 18, 400),
                          (2800, -60, -150, 70, 7), (2800, 60, -150, 70, 7)]  # fmt: skip
    else:
        shapes = [(1900, 0, 40, 150 * a[0], 300), (800, -5, -10, 95 * a[2], 120 * a[3]),
                  (2500, -45, 60, 55 * a[4], 55), (2900, 95, 0, 22, 400)]  # fmt: skip
    img = _paint(x, y, 300.0, shapes)
    ribs = (np.sin((y + 0.004 * x**2) / (9.0 * a[5])) > 0.55) & (img > 500) & (img < 900)
    tex = _texture(_subseed("xr", anat.tobytes()), half, 16, (0, 0))
    img = np.repeat(np.repeat(_blur(img + 450 * ribs, 2) + 60 * tex, 2, axis=0), 2, axis=1)
    img += rng.standard_normal(img.shape, dtype=np.float32) * 25
    attrs = {"ViewPosition": variant, "ImagerPixelSpacing": [0.35] * 2, "PixelSpacing": [0.35] * 2,
             "BitsStored": 12, "WindowCenter": 2048, "WindowWidth": 4096, "KVP": 120,
             "PatientOrientation": ["L", "F"] if variant == "PA" else ["A", "F"],
             "ImageType": ["ORIGINAL", "PRIMARY"], "PhotometricInterpretation": _MONO}
    yield np.clip(np.rint(img), 0, 4095).astype(np.uint16), attrs


@functools.cache
def _probe() -> tuple[np.ndarray, np.ndarray]:
    x, y = _grid((480, 640), 0.25, (0.0, 0.0))
    r = np.hypot(x, y + 65.0)  # curved probe, apex above the image
    sector = (r > 8) & (r < 120) & (np.abs(np.arctan2(x, y + 65.0)) < 0.7)
    return sector, np.where(sector, 1.2 - 0.004 * r, 0).astype(np.float32)


def _us_frame(
    scene: str, a: np.ndarray, rng: np.random.Generator, shift: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    x, y = _grid((480, 640), 0.25, shift)
    scenes: dict[str, Shapes] = {
        "liver": [(140, 0, -45, 300, 1.5), (8, -20 * a[0], 10, 6, 6), (8, 15, 25 * a[1], 4, 4)],
        "kidney": [(130, 5, 10, 38 * a[2], 20 * a[3]), (60, 5, 10, 34 * a[2], 17 * a[3]),
                   (150, 5, 10, 22 * a[2], 8 * a[3])],
        "vessel": [(6, 0, 5, 12 * a[4], 12 * a[4]), (6, -30, 0, 10, 7)],
    }  # fmt: skip
    echo = _paint(x, y, 95.0 if scene == "liver" else 80.0, scenes[scene])
    speckle = np.sqrt(rng.standard_exponential((480, 640), dtype=np.float32) * 1.28)
    img = echo * speckle * _probe()[1]
    img[40:440:40, 610:614] = 200  # depth scale marks
    return np.clip(img, 0, 255).astype(np.uint8), echo


def _doppler(gray: np.ndarray, echo: np.ndarray) -> np.ndarray:
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    flow = (echo < 20) & _probe()[0]
    toward = flow.copy()
    toward[:, 320:] = False
    rgb[toward] = (200, 30, 30)
    rgb[flow & ~toward] = (30, 30, 200)
    return rgb


def _us_images(
    proc: _Proc, variant: str, n: int, anat: np.ndarray, acq: _Acq, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    views = (("liver", 1), ("liver", 1), ("kidney", 1), ("kidney", 1), ("vessel", 0),
             ("liver", 10), ("kidney", 10))  # fmt: skip  (0 frames: one RGB doppler image)
    for k, (scene, frames) in enumerate(views):
        move = [(acq.shift[0] + 7 * (k % 2), acq.shift[1] + 3 * np.sin(2 * np.pi * f / 10))
                for f in range(max(frames, 1))]  # fmt: skip  (probe position, breathing)
        stack = [_us_frame(scene, anat, rng, shift) for shift in move]
        attrs = {"BitsStored": 8, "PhotometricInterpretation": "MONOCHROME2",
                 "ImageType": ["ORIGINAL", "PRIMARY", "ABDOMINAL"]}  # fmt: skip
        if frames > 1:
            attrs |= {"NumberOfFrames": frames, "FrameTime": 33.3, "CineRate": 30,
                      "FrameIncrementPointer": 0x00181063}  # fmt: skip
            yield np.stack([s[0] for s in stack]), attrs
        elif frames == 0:
            yield _doppler(*stack[0]), attrs | {"PhotometricInterpretation": "RGB"}
        else:
            yield stack[0][0], attrs


_GENERATORS = {"CT": _ct_images, "MR": _mr_images, "XR": _xr_images, "US": _us_images}


def _is_ascii(*values: object) -> bool:
    return all(str(v).isascii() for v in values)


def _study_base(
    modality: str, proc: _Proc, desc: str, patient: Patient, seed: int, day: date, institution: str
) -> dict[str, Any]:
    rng = np.random.default_rng(_subseed("header", seed))
    site = _site(institution)
    vendor = _VENDORS[proc.family][zlib.crc32(institution.encode()) % 3]
    minutes = timedelta(minutes=int(rng.integers(420, 1080)))
    start = datetime.combine(day, datetime.min.time()) + minutes
    doctor = _DOCTORS[int(rng.integers(len(_DOCTORS)))]
    base = {"PatientName": patient.name, "PatientID": patient.patient_id,
            "IssuerOfPatientID": patient.issuer, "PatientSex": patient.sex,
            "PatientBirthDate": patient.birth_date.strftime("%Y%m%d"),
            "PatientAge": f"{(day - patient.birth_date).days // 365:03d}Y",
            "StudyInstanceUID": _uid("study", seed), "StudyDate": start.strftime("%Y%m%d"),
            "StudyTime": start.strftime("%H%M%S"), "StudyID": str(int(rng.integers(1, 99999))),
            "AccessionNumber": f"{site.station}{int(rng.integers(10**7, 10**8))}",
            "Modality": modality, "BodyPartExamined": proc.body, "StudyDescription": desc,
            "InstitutionName": institution, "StationName": f"{site.station}{proc.family}01",
            "Manufacturer": vendor[0], "ManufacturerModelName": vendor[1],
            "ReferringPhysicianName": doctor, "_start": start}  # fmt: skip
    if not _is_ascii(patient.name, doctor, institution):
        base["SpecificCharacterSet"] = "ISO_IR 192"
    if site.codes and rng.random() < 0.7:
        base["ProcedureCodeSequence"] = (proc.code, f"99{site.issuer}", desc)
    if modality == "DX":
        base["PresentationIntentType"] = "FOR PRESENTATION"
    return base


def _code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _sop_class(modality: str, multiframe: bool) -> str:
    if modality == "US":
        return UltrasoundMultiFrameImageStorage if multiframe else UltrasoundImageStorage
    classes = {"CT": CTImageStorage, "MR": MRImageStorage, "CR": ComputedRadiographyImageStorage}
    return classes.get(modality, DigitalXRayImageStorageForPresentation)


def _dataset(attrs: dict[str, Any], arr: np.ndarray) -> Dataset:
    ds = Dataset()
    for key, value in attrs.items():
        if key == "ProcedureCodeSequence":
            ds.ProcedureCodeSequence = [_code_item(*value)]
        elif not key.startswith("_"):
            setattr(ds, key, value)
    rgb = ds.PhotometricInterpretation == "RGB"
    ds.Rows, ds.Columns = arr.shape[-3:-1] if rgb else arr.shape[-2:]
    ds.SamplesPerPixel = 3 if rgb else 1
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.HighBit = arr.itemsize * 8, ds.BitsStored - 1
    ds.PixelRepresentation = int(arr.dtype.kind == "i")
    ds.PixelData = arr.tobytes()
    ds["PixelData"].VR = "OB" if arr.itemsize == 1 else "OW"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _resolve(modality: str, procedure: str | None, seed: int, institution: str) -> tuple[str, str]:
    family = _FAMILY.get(modality.upper())
    if family is None:
        raise ValueError(f"unsupported modality {modality!r}")
    names = [name for name, p in _PROCS.items() if p.family == family]
    name = procedure or names[seed % len(names)]
    if name not in _PROCS or _PROCS[name].family != family:
        raise ValueError(f"procedure {name!r} does not fit modality {modality!r}")
    real = _site(institution).xr_modality if modality.upper() == "XR" else modality.upper()
    return real, name


def _iter_study(
    modality: str, patient: Patient, seed: int, day: date, institution: str, slices: int,
    procedure: str | None,
) -> Iterator[tuple[Path, Dataset]]:  # fmt: skip
    modality, name = _resolve(modality, procedure, seed, institution)
    proc = _PROCS[name]
    base = _study_base(modality, proc, name, patient, seed, day, institution)
    anat, acq = _anatomy(patient.person), _acquisition(seed, institution)
    folder = _hex8("study", base["StudyInstanceUID"])
    for k, (desc, variant) in enumerate(proc.series, start=1):
        when = base["_start"] + timedelta(minutes=3 * k)
        series = {"SeriesInstanceUID": _uid("series", seed, k), "SeriesNumber": k,
                  "SeriesDescription": desc,
                  "ProtocolName": f"{proc.body}_{variant}".upper(),
                  "SeriesDate": when.strftime("%Y%m%d"),
                  "SeriesTime": when.strftime("%H%M%S")}  # fmt: skip
        if proc.family in ("CT", "MR"):
            series |= {"FrameOfReferenceUID": _uid("for", seed), "PositionReferenceIndicator": ""}
        rng = np.random.default_rng([acq.noise, k])
        images = _GENERATORS[proc.family](proc, variant, max(slices, 1), anat, acq, rng)
        for i, (arr, attrs) in enumerate(images, start=1):
            stamp = (when + timedelta(seconds=i)).strftime("%H%M%S")
            inst = {"SOPClassUID": _sop_class(modality, "NumberOfFrames" in attrs),
                    "SOPInstanceUID": _uid("sop", seed, k, i), "InstanceNumber": i,
                    "AcquisitionDate": when.strftime("%Y%m%d"), "AcquisitionTime": stamp,
                    "ContentDate": when.strftime("%Y%m%d"), "ContentTime": stamp}  # fmt: skip
            yield Path(folder, str(k), f"{i}.dcm"), _dataset(base | series | attrs | inst, arr)


def _encode(ds: Dataset, transfer_syntax: str, ratio: float = 20.0) -> None:
    uid = UID(transfer_syntax)
    if not uid.is_compressed:
        ds.file_meta.TransferSyntaxUID = uid
    elif uid == JPEG2000:
        original = len(ds.PixelData)
        ds.compress(uid, generate_instance_uid=False, j2k_cr=[ratio])
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = round(original / max(len(ds.PixelData), 1), 2)
        ds.LossyImageCompressionMethod = "ISO_15444_1"
    else:
        ds.compress(uid, generate_instance_uid=False)


def _save(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def write_study(
    out_dir: Path,
    *,
    modality: str,
    patient: Patient,
    seed: int,
    study_date: date,
    institution: str,
    slices: int = 20,
    transfer_syntax: str = ExplicitVRLittleEndian,
    procedure: str | None = None,
) -> str:
    """Write one synthetic study, one file per instance.

    Files go to ``out_dir/<8-hex>/<series number>/<instance number>.dcm``.

    Args:
        out_dir: Parent folder of the study folder.
        modality: ``"CT"``, ``"MR"``, ``"CR"``, ``"DX"``, ``"US"`` or ``"XR"`` (the
            institution's X-ray type, CR or DX).
        patient: The patient record written into the header.
        seed: Acquisition seed. UIDs, accession, times, noise and patient shift derive from
            it: the same seed reproduces the same bytes, another seed is a new acquisition.
        study_date: StudyDate.
        institution: InstitutionName, one of :data:`INSTITUTIONS` or any other name.
        slices: Instances per series for CT and MR (XR always has 2 views, US 7 images).
        transfer_syntax: Transfer syntax UID; compressed ones go through ``Dataset.compress``
            (JPEG 2000 lossy with a 20:1 ratio).
        procedure: One of :data:`PROCEDURES` fitting the modality; chosen from the seed if
            omitted.

    Returns:
        The StudyInstanceUID.

    """
    uid = ""
    for rel, ds in _iter_study(modality, patient, seed, study_date, institution, slices, procedure):
        uid = ds.StudyInstanceUID
        _encode(ds, transfer_syntax)
        _save(ds, Path(out_dir) / rel)
    return uid


def _resample(arr: np.ndarray, rgb: bool) -> np.ndarray:
    a = np.moveaxis(arr.astype(np.float32), -1, 0) if rgb else arr.astype(np.float32)
    small = (a[..., ::2, ::2] + a[..., 1::2, ::2] + a[..., ::2, 1::2] + a[..., 1::2, 1::2]) / 4
    big = np.repeat(np.repeat(small, 2, axis=-2), 2, axis=-1)
    return np.rint(np.moveaxis(big, 0, -1) if rgb else big).astype(arr.dtype)


def _available(uid: str) -> bool:
    return bool(get_encoder(uid).is_available)


@dataclass(frozen=True, slots=True)
class _Person:
    index: int
    home: Patient
    alias: Patient
    home_site: str
    alias_site: str


@dataclass(frozen=True, slots=True)
class _Study:
    uid: str
    path: Path
    family: str
    modality: str
    procedure: str
    patient: Patient
    person: _Person
    institution: str
    day: date


def _pn(family: str, given: str, middle: str, site: str) -> str:
    name = "^".join(p for p in (family, given, middle) if p)
    return name if _site(site).unicode_names else name.translate(_TRANSLIT).upper()


def _alias_name(name: str, variant: int) -> str:
    parts = name.split("^")
    if variant == 1:  # family and given swapped
        parts[0], parts[1] = parts[1], parts[0]
    elif variant == 2 and len(parts[0]) > 3:  # typo: two letters transposed
        parts[0] = parts[0][:2] + parts[0][3] + parts[0][2] + parts[0][4:]
    elif variant == 3:  # middle name missing
        parts = parts[:2]
    return "^".join(parts)


def _mrn(i: int, rng: np.random.Generator) -> int:
    return 100_000 + 997 * i + int(rng.integers(997))  # unique per person index


def _people(seed: int, count: int) -> list[_Person]:
    rng = np.random.default_rng(_subseed("people", seed))
    combos = [(f, s, g) for f in _SURNAMES for s in "MF" for g in _GIVEN[s]]
    people = []
    for i, idx in enumerate(rng.permutation(len(combos))[:count]):
        family, sex, given = combos[int(idx)]
        middle = _MIDDLE[sex][int(rng.integers(3 if i % 4 == 3 else 5))]  # variant 3 drops it
        born = date(1940, 1, 1) + timedelta(days=int(rng.integers(0, 60 * 365)))
        home, other = INSTITUTIONS[i % 3], INSTITUTIONS[(i + 1) % 3]
        records = [
            Patient(_pn(family, given, middle, site), _site(site).mrn.format(_mrn(i, rng)),
                    _site(site).issuer, born, sex, _subseed("person", seed, i))
            for site in (home, other)
        ]  # fmt: skip
        alias = replace(records[1], name=_alias_name(records[1].name, i % 4))
        people.append(_Person(i, records[0], alias, home, other))
    return people


class _Run:
    """Mutable state of one make_corpus run."""

    def __init__(self, out: Path, seed: int, slices: int) -> None:
        self.archive, self.incoming = out / "archive", out / "incoming"
        self.seed, self.slices, self.count = seed, slices, 0
        self.studies: list[_Study] = []
        self.turn: dict[str, int] = {}
        self.rng = np.random.default_rng(_subseed("run", seed))

    def write(
        self, root: Path, person: _Person, patient: Patient, modality: str, day: date, site: str,
        procedure: str | None = None,
    ) -> _Study:  # fmt: skip
        self.count += 1
        seed = _subseed(self.seed, self.count, root.name, person.index, modality, procedure, day)
        real, name = _resolve(modality, procedure, seed, site)
        family = _PROCS[name].family
        syntax = _site(site).syntax if root == self.archive else ExplicitVRLittleEndian
        slices = self.slices if family == "CT" else min(self.slices, 32)
        uid = write_study(root, modality=real, patient=patient, seed=seed, study_date=day,
                          institution=site, slices=slices, transfer_syntax=syntax,
                          procedure=name)  # fmt: skip
        path = root / _hex8("study", uid)
        return _Study(uid, path, family, real, name, patient, person, site, day)

    def pick(self, family: str) -> _Study:
        pool = [s for s in self.studies if s.family == family]
        n = self.turn.get(family, 0)
        self.turn[family] = n + 1
        return pool[n % len(pool)]

    def days(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


def _write_archive(run: _Run, people: list[_Person]) -> None:
    ct = [p for p in PROCEDURES if _PROCS[p].family == "CT"]
    mr = [p for p in PROCEDURES if _PROCS[p].family == "MR"]
    for person in people:
        i = person.index
        plan = (("CT", ct[i % 3]), ("MR", mr[i % 2]), ("XR", None), ("US", None))
        for modality, procedure in plan:
            day = date(2023, 1, 2) + timedelta(days=run.days(0, 330))
            moved = modality == "US" and i % 2 == 1  # some studies under the other record
            patient = person.alias if moved else person.home
            site = person.alias_site if moved else person.home_site
            study = run.write(run.archive, person, patient, modality, day, site, procedure)
            run.studies.append(study)


def _derive(
    run: _Run, src: _Study, salt: str, *, syntax: str = ExplicitVRLittleEndian,
    keep: set[int] | None = None, header: dict[str, Any] | None = None, resample: bool = False,
) -> str:  # fmt: skip
    study_uid = _uid("derived", run.seed, salt, src.uid)
    folder = run.incoming / _hex8("study", study_uid)
    for path in sorted(src.path.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        if keep is not None and ds.SeriesNumber not in keep:
            continue
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress(generate_instance_uid=False)
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = _uid("derived", salt, ds.SeriesInstanceUID)
        ds.SOPInstanceUID = _uid("derived", salt, ds.SOPInstanceUID)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if "FrameOfReferenceUID" in ds:
            ds.FrameOfReferenceUID = _uid("derived", salt, ds.FrameOfReferenceUID)
        for key, value in (header or {}).items():
            setattr(ds, key, value)
        if not _is_ascii(ds.PatientName, ds.InstitutionName):
            ds.SpecificCharacterSet = "ISO_IR 192"
        if resample:
            ds.PixelData = _resample(ds.pixel_array, ds.SamplesPerPixel == 3).tobytes()
        _encode(ds, syntax, ratio=15.0)
        _save(ds, folder / path.parent.name / path.name)
    return study_uid


def _new_accession(run: _Run, site: str) -> dict[str, str]:
    station = _site(site).station
    accession = f"{station}{run.days(10**7, 10**8 - 1)}"
    return {"AccessionNumber": accession, "StudyID": str(run.days(1, 99999))}


def _inject_exact(run: _Run) -> list[Label]:
    labels = []
    for family in ("CT", "XR"):
        src = run.pick(family)
        shutil.copytree(src.path, run.incoming / _hex8("copy", run.seed, src.uid))
        labels.append(Label(src.uid, "exact", src.uid, "whole study re-sent, byte-identical"))
    return labels


def _inject_same_content(run: _Run) -> list[Label]:
    rle = RLELossless if _available(RLELossless) else ImplicitVRLittleEndian
    j2k = JPEG2000Lossless if _available(JPEG2000Lossless) else ImplicitVRLittleEndian
    ct, mr, us = run.pick("CT"), run.pick("MR"), run.pick("US")
    other, site = mr.person.alias, mr.person.alias_site
    reid = {"PatientName": other.name, "PatientID": other.patient_id,
            "IssuerOfPatientID": other.issuer, "InstitutionName": site}  # fmt: skip
    us_header = _new_accession(run, us.institution) | {"StudyDescription": "US ABD COMPLETE"}
    ct_header, mr_header = _new_accession(run, ct.institution), reid | _new_accession(run, site)
    return [
        Label(_derive(run, ct, "sc-ct", syntax=rle, header=ct_header), "same-content", ct.uid,
              f"{UID(rle).name.lower()} transcode, new uids, new accession"),
        Label(_derive(run, mr, "sc-mr", syntax=j2k, header=mr_header), "same-content", mr.uid,
              f"{UID(j2k).name.lower()} transcode, new uids, "
              "re-identified with the other institution's MRN and name spelling"),
        Label(_derive(run, us, "sc-us", header=us_header), "same-content", us.uid,
              "uncompressed, new uids, new accession, changed description"),
    ]  # fmt: skip


def _inject_partial(run: _Run) -> list[Label]:
    labels = []
    for family, keep in (("CT", {1, 3}), ("MR", {1, 2})):
        src = run.pick(family)
        uid = _derive(run, src, f"partial-{family}", keep=keep)
        labels.append(Label(uid, "partial", src.uid, f"series {sorted(keep)} of 3, new uids"))
    return labels


def _inject_near(run: _Run) -> list[Label]:
    labels = []
    for family in ("CT", "MR", "XR", "US"):
        src = run.pick(family)
        if _available(JPEG2000) and family in ("CT", "MR"):
            uid = _derive(run, src, f"near-{family}", syntax=JPEG2000)
            note = "jpeg 2000 lossy transcode, new uids"
        else:
            uid = _derive(run, src, f"near-{family}", resample=True)
            note = "downsampled x2 and re-upsampled, new uids"
        labels.append(Label(uid, "near", src.uid, note))
    return labels


def _inject_repeat(run: _Run) -> list[Label]:
    labels = []
    for family, moved in (("CT", False), ("MR", True), ("XR", False)):
        src = run.pick(family)
        person, gap = src.person, run.days(5, 60)
        patient = person.alias if moved else src.patient
        site = person.alias_site if moved else src.institution
        modality = src.modality if site == src.institution else family
        day = src.day + timedelta(days=gap)
        new = run.write(run.incoming, person, patient, modality, day, site, src.procedure)
        where = "other institution, other MRN and name spelling" if moved else "same institution"
        note = f"new acquisition {gap} days later, {where}"
        labels.append(Label(new.uid, "repeat", src.uid, note))
    return labels


def _record_at(person: _Person, site: str, run: _Run) -> Patient:
    if site in (person.home_site, person.alias_site):
        return person.home if site == person.home_site else person.alias
    mrn = _site(site).mrn.format(run.days(800_000, 899_999))  # outside the _mrn range
    return replace(person.home, patient_id=mrn, issuer=_site(site).issuer)


def _inject_negatives(run: _Run, stranger: _Person) -> list[Label]:
    ct, mr, xr, us = run.pick("CT"), run.pick("MR"), run.pick("XR"), run.pick("US")
    other = _record_at(stranger, ct.institution, run)
    s1 = run.write(run.incoming, stranger, other, ct.modality, ct.day, ct.institution, ct.procedure)
    alt = next(p for p in PROCEDURES if _PROCS[p].family == "MR" and p != mr.procedure)
    s2 = run.write(run.incoming, mr.person, mr.patient, "MR", mr.day + timedelta(days=10),
                   mr.institution, alt)  # fmt: skip
    later = xr.day + timedelta(days=run.days(730, 760))
    s3 = run.write(run.incoming, xr.person, xr.patient, xr.modality, later, xr.institution)
    born = us.patient.birth_date - timedelta(days=run.days(3 * 365, 20 * 365))
    mrn = _site(us.institution).mrn.format(run.days(900_000, 999_999))
    twin = replace(us.patient, patient_id=mrn, birth_date=born, person=_subseed("twin", run.seed))
    s4 = run.write(run.incoming, us.person, twin, "US", us.day + timedelta(days=20), us.institution)
    return [
        Label(s1.uid, "negative", None, "other patient, same procedure, same day"),
        Label(s2.uid, "negative", None, "same patient, different procedure"),
        Label(s3.uid, "negative", None, "same patient and procedure, 2 years later"),
        Label(s4.uid, "negative", None, "namesake: same name, other birth date, same procedure"),
    ]


def _inject_fresh(run: _Run, strangers: list[_Person]) -> list[Label]:
    labels = []
    for person, modality in zip(strangers, ("CT", "MR"), strict=True):
        day = date(2025, 3, 1) + timedelta(days=run.days(0, 60))
        new = run.write(run.incoming, person, person.home, modality, day, person.home_site)
        labels.append(Label(new.uid, "negative", None, "unrelated new patient"))
    return labels


def _tally(*roots: Path) -> tuple[int, int]:
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def make_corpus(
    out: Path,
    *,
    patients: int = 6,
    seed: int = 0,
    ct_slices: int = 20,
    kinds: Iterable[str] = ALL_KINDS,
    negatives: bool = True,
) -> Corpus:
    """Write an archive and an incoming batch with injected duplicates and ground truth.

    Every archived patient gets one CT (3 series of ``ct_slices``), one MR (3 series), one
    XR chest (2 views) and one US abdomen (7 images: 2 multi-frame, 1 RGB). The incoming
    batch holds 2-3 studies per requested kind over different modalities, 4 look-alike
    negatives (if ``negatives``) and 2 unrelated new patients (also labelled ``"negative"``).

    Args:
        out: Output folder; ``out/archive`` and ``out/incoming`` are created.
        patients: Number of archived patients (at least 1).
        seed: Corpus seed; the same seed gives the same bytes.
        ct_slices: Instances per CT series (MR series use ``min(ct_slices, 32)``).
        kinds: Duplicate kinds to inject, a subset of :data:`ALL_KINDS`; ``"negative"`` is
            accepted and means ``negatives=True``.
        negatives: Whether to add look-alike negatives.

    Returns:
        The corpus, with one label per incoming study.

    Raises:
        ValueError: If ``kinds`` holds an unknown kind.

    """
    wanted = set(kinds)
    if unknown := wanted - set(LABEL_KINDS):
        raise ValueError(f"unknown kinds: {sorted(unknown)}")
    people = _people(seed, max(patients, 1) + 3)
    run = _Run(Path(out), seed, max(ct_slices, 1))
    run.incoming.mkdir(parents=True, exist_ok=True)
    _write_archive(run, people[: max(patients, 1)])
    injectors = {"exact": _inject_exact, "same-content": _inject_same_content,
                 "partial": _inject_partial, "near": _inject_near,
                 "repeat": _inject_repeat}  # fmt: skip
    labels = [label for kind in ALL_KINDS if kind in wanted for label in injectors[kind](run)]
    if negatives or "negative" in wanted:
        labels += _inject_negatives(run, people[-3])
    labels += _inject_fresh(run, people[-2:])
    files, size = _tally(run.archive, run.incoming)
    return Corpus(run.archive, run.incoming, tuple(labels), files, size)


def write_labels(corpus: Corpus, path: Path) -> None:
    """Write the ground truth of a corpus as JSON.

    Args:
        corpus: The corpus returned by :func:`make_corpus`.
        path: Target file: ``{"archive_dir", "incoming_dir", "files", "bytes", "labels": [...]}``
            where each label has ``study_uid``, ``kind``, ``duplicate_of`` and ``note``.

    """
    doc = {"archive_dir": str(corpus.archive_dir), "incoming_dir": str(corpus.incoming_dir),
           "files": corpus.files, "bytes": corpus.bytes,
           "labels": [asdict(label) for label in corpus.labels]}  # fmt: skip
    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def zip_study(study_dir: Path, zip_path: Path) -> None:
    """Zip a study folder deterministically (fixed timestamps, sorted members).

    Args:
        study_dir: The study folder; members are named ``<study folder>/<series>/<file>``.
        zip_path: The zip file to write.

    """
    study_dir = Path(study_dir)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in study_dir.rglob("*") if p.is_file()):
            name = path.relative_to(study_dir.parent).as_posix()
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())


def write_dicomdir(media_dir: Path) -> Path:
    """Turn a folder of DICOM files into CD-like media with a DICOMDIR.

    ``pydicom.fileset.FileSet`` moves the files to the standard
    ``PT000000/ST000000/SE000000/IM000000`` names (no extension); the originals are removed.

    Args:
        media_dir: Folder holding the DICOM files (any layout); becomes the media root.

    Returns:
        Path of the DICOMDIR file.

    """
    media_dir = Path(media_dir)
    sources = sorted(p for p in media_dir.rglob("*") if p.is_file() and p.name != "DICOMDIR")
    fileset = FileSet()
    fileset.ID = "DEDUPSYNTH"
    uids = []
    for path in sources:
        uids.append(fileset.add(path).SOPInstanceUID)
    fileset.UID = UID(_uid("fileset", *sorted(uids)))
    fileset.write(media_dir)
    written = {Path(instance.path).resolve() for instance in fileset}
    for path in sources:
        if path.resolve() not in written:
            path.unlink()
    for folder in sorted((p for p in media_dir.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return media_dir / "DICOMDIR"


def _sample(seed: int) -> tuple[Dataset, bytes]:
    patient = Patient("TESTER^SAMPLE", "BAD0001", "STMARY", date(1970, 1, 1), "O", 0)
    _, ds = next(_iter_study("MR", patient, seed, date(2024, 1, 1), INSTITUTIONS[0], 1, None))
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return ds, buf.getvalue()


def _multmodp(a: int, b: int) -> int:
    """Multiply two polynomials modulo the reflected CRC-32 polynomial (as zlib does)."""
    product, mask = 0, 1 << 31
    while mask:
        if a & mask:
            product ^= b
        mask >>= 1
        b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1
    return product


def _x8n(n: int) -> int:
    power, result = 1 << 30, 1 << 31  # x^1 and 1
    for _ in range(3):
        power = _multmodp(power, power)  # x^8: one byte
    while n:
        if n & 1:
            result = _multmodp(power, result)
        power, n = _multmodp(power, power), n >> 1
    return result


def _crc32_zeros(size: int) -> int:
    """CRC-32 of ``size`` zero bytes in O(log size) steps (zlib's crc32_combine)."""
    crc, piece, length = 0, zlib.crc32(b"\0"), 1
    while size:
        if size & 1:
            crc = _multmodp(_x8n(length), crc) ^ piece
        piece, length, size = _multmodp(_x8n(length), piece) ^ piece, length * 2, size >> 1
    return crc


def _zip_bomb(path: Path, size: int = 2**31 + 2**24, chunk: int = 2**24) -> None:
    # Raw deflate of zeros; after a full flush every chunk compresses to the same bytes,
    # so the member is built by repetition instead of compressing 2 GiB.
    comp, zeros = zlib.compressobj(9, zlib.DEFLATED, -15), bytes(chunk)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    tail, count, crc = comp.flush(), size // chunk, _crc32_zeros(size // chunk * chunk)
    packed, name, stamp = len(first) + len(block) * (count - 1) + len(tail), b"scan.dcm", 0x5821
    sizes = (crc, packed, size, len(name))
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, stamp, *sizes, 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, stamp, *sizes, *[0] * 6)
    with open(path, "wb") as fh:
        fh.write(local + name + first)
        for _ in range(count - 1):
            fh.write(block)
        fh.write(tail)
        cd_size = len(central) + len(name)
        end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, cd_size, fh.tell(), 0)
        fh.write(central + name + end)


def _bad_contents(seed: int) -> dict[str, bytes]:
    ds, good = _sample(seed)
    junk = np.random.default_rng(seed).integers(0, 256, 512, dtype=np.uint8).tobytes()
    meta_end = 144 + struct.unpack("<L", good[140:144])[0]  # after the file meta group
    bad_item = struct.pack("<HH2sHLHHL", 8, 0x1110, b"SQ", 0, 0xFFFFFFFF, 0xFFFE, 0xE000, 2**31)
    missing, short = pydicom.dcmread(BytesIO(good)), pydicom.dcmread(BytesIO(good))
    del missing.StudyInstanceUID, missing.SOPInstanceUID
    short.PixelData = short.PixelData[: len(short.PixelData) // 2]
    buffers = {"missing-uid": BytesIO(), "pixel-length": BytesIO()}
    missing.save_as(buffers["missing-uid"], enforce_file_format=True)
    short.save_as(buffers["pixel-length"], enforce_file_format=True)
    return {
        "not-dicom": b"Patient list export\nnot a DICOM file\n",
        "truncated": good[: len(good) - len(ds.PixelData) // 2],
        "corrupt": good[:meta_end] + bad_item + junk,
        "unreadable": good,
    } | {reason: buf.getvalue() for reason, buf in buffers.items()}


def write_bad_inputs(out_dir: Path, *, seed: int = 0) -> dict[str, Path]:
    """Write one broken input per quarantine reason.

    Reasons: ``not-dicom`` (text), ``truncated`` (cut inside the pixel data), ``corrupt``
    (valid file meta, then a sequence item with an impossible length and garbage; pydicom's
    ``dcmread`` raises), ``missing-uid`` (no StudyInstanceUID and
    SOPInstanceUID in the data set), ``pixel-length`` (PixelData half the expected length),
    ``zip-bomb`` (a ~2 MB zip whose single member inflates to more than 2 GiB) and
    ``unreadable`` (mode 000; root can still read it).

    Args:
        out_dir: Folder to write into (created if missing).
        seed: Seed of the valid MR image the broken files are made from.

    Returns:
        Mapping of reason to the written path.

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reasons = ("not-dicom", "truncated", "corrupt", "missing-uid", "pixel-length", "unreadable")
    paths = {reason: out / f"{reason}.dcm" for reason in reasons}
    for reason, content in _bad_contents(seed).items():
        if paths[reason].exists():
            os.chmod(paths[reason], 0o600)
        paths[reason].write_bytes(content)
    os.chmod(paths["unreadable"], 0)
    paths["zip-bomb"] = out / "zip-bomb.zip"
    _zip_bomb(paths["zip-bomb"])
    return paths
