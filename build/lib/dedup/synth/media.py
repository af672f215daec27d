"""Media: deterministic study zips and CD-like DICOMDIR file-sets."""

from __future__ import annotations

import zipfile
from pathlib import Path

from pydicom.fileset import FileSet
from pydicom.uid import UID

from dedup.synth.seeds import _uid


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
