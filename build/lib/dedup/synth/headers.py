"""DICOM headers: study attributes, data sets, transfer-syntax encoding and :func:`write_study`."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_encoder
from pydicom.uid import (
    JPEG2000,
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from dedup.synth.images import _GENERATORS, _acquisition, _anatomy
from dedup.synth.people import _DOCTORS, Patient, _site
from dedup.synth.procedures import _PROCS, _Proc, _resolve
from dedup.synth.seeds import _hex8, _subseed, _uid

_VENDORS = {
    "CT": (("SIEMENS", "SOMATOM Definition AS"), ("GE MEDICAL SYSTEMS", "Revolution CT"),
           ("Philips", "Ingenuity CT")),
    "MR": (("SIEMENS", "MAGNETOM Skyra"), ("GE MEDICAL SYSTEMS", "SIGNA Premier"),
           ("Philips", "Ingenia")),
    "XR": (("Carestream Health", "DRX-Evolution"), ("FUJIFILM Corporation", "FDR Go"),
           ("Agfa", "DX-D 600")),
    "US": (("GE Healthcare", "LOGIQ E10"), ("Philips", "EPIQ 7"), ("SIEMENS", "ACUSON Sequoia")),
}  # fmt: skip


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


def _available(uid: str) -> bool:
    return bool(get_encoder(uid).is_available)
