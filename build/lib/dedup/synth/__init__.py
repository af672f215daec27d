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

from dedup.synth.bad import write_bad_inputs
from dedup.synth.corpus import (
    ALL_KINDS,
    LABEL_KINDS,
    Corpus,
    Label,
    make_corpus,
    write_labels,
)
from dedup.synth.headers import write_study
from dedup.synth.media import write_dicomdir, zip_study
from dedup.synth.people import INSTITUTIONS, Patient
from dedup.synth.procedures import PROCEDURES

__all__ = [
    "ALL_KINDS",
    "INSTITUTIONS",
    "LABEL_KINDS",
    "PROCEDURES",
    "Corpus",
    "Label",
    "Patient",
    "make_corpus",
    "write_bad_inputs",
    "write_dicomdir",
    "write_labels",
    "write_study",
    "zip_study",
]
