"""Objects without Pixel Data, made by DCMTK (not by dedup), for the ingest and fingerprint tests.

* a Basic Text SR: XML written here, encoded by ``xml2dsr`` and checked by ``dsr2xml``;
* a Grayscale Softcopy Presentation State: ``dcmpsmk`` from an image pydicom ships;
* an encapsulated PDF: a minimal valid PDF written here, wrapped by ``pdf2dcm``;
* an image whose Pixel Data was removed: ``dcmodify -e PixelData``;
* a re-identified copy of any of them: ``dcmodify`` with new Study, Series and SOP Instance
  UIDs, another patient and shifted dates (at the top level and inside sequences).
"""

from __future__ import annotations

import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest

from tests.conftest import shipped

TOOLS = ("xml2dsr", "dsr2xml", "dcmpsmk", "pdf2dcm", "dcmodify", "dcmconv")
needs_dcmtk = pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                                 reason="DCMTK command line tools are not installed")

_SR = """<?xml version="1.0" encoding="ISO-8859-1"?>
<report type="Basic Text SR">
<sopclass uid="1.2.840.10008.5.1.4.1.1.88.11">BasicTextSRStorage</sopclass>
<charset>ISO_IR 100</charset>
<modality>SR</modality>
<manufacturer>Reporting Workstation</manufacturer>
<referringphysician><name><first>Rita</first><last>Referrer</last></name></referringphysician>
<patient>
<id>P0042</id>
<name><first>Anna</first><last>Example</last></name>
<birthday><date>1961-02-03</date></birthday>
<sex>F</sex>
</patient>
<study uid="{study}">
<id>S42</id>
<date>2024-03-01</date>
<time>10:15:00</time>
<accession><number>ACC1001</number></accession>
<description>CT CHEST</description>
</study>
<series uid="{study}.1"><number>99</number><description>Report</description></series>
<instance uid="{study}.1.1"><number>1</number></instance>
<document>
<completion flag="COMPLETE"></completion>
<verification flag="UNVERIFIED"></verification>
<content>
<date>2024-03-01</date>
<time>11:00:00</time>
<container flag="SEPARATE">
<concept><value>18748-4</value><scheme><designator>LN</designator></scheme>
<meaning>Diagnostic Imaging Report</meaning></concept>
<pname>
<relationship>HAS OBS CONTEXT</relationship>
<concept><value>121008</value><scheme><designator>DCM</designator></scheme>
<meaning>Person Observer Name</meaning></concept>
<value><first>Otto</first><last>Observer</last></value>
</pname>
<date>
<relationship>HAS OBS CONTEXT</relationship>
<concept><value>111060</value><scheme><designator>DCM</designator></scheme>
<meaning>Study Date</meaning></concept>
<value>2024-03-01</value>
</date>
<text>
<relationship>CONTAINS</relationship>
<concept><value>121071</value><scheme><designator>DCM</designator></scheme>
<meaning>Finding</meaning></concept>
<value>{finding}</value>
</text>
</container>
</content>
</document>
</report>
"""

#: What :func:`reidentify` changes besides the UIDs: identity, and dates and times shifted.
REIDENTIFIED = {"PatientName": "Other^Person", "PatientID": "X991", "PatientBirthDate":
                "19700101", "AccessionNumber": "Z77", "StudyDate": "20230110",
                "ContentDate": "20230110", "InstanceCreationDate": "20230110",
                "StudyTime": "080000", "ContentTime": "083000", "(0040,a121)": "20230110"}


def run(*command: str) -> str:
    """Run a DCMTK tool; fail the test with its output when it fails."""
    proc = subprocess.run(command, capture_output=True, encoding="latin-1", timeout=60)
    assert proc.returncode == 0, f"{command[0]} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


def make_sr(out: Path, finding: str, *, study: str = "1.2.826.0.1.3680043.8.498.1001") -> Path:
    """A Basic Text SR encoded by ``xml2dsr``; ``dsr2xml`` reads it back with the finding."""
    xml = out.with_suffix(".xml")
    xml.write_text(_SR.format(study=study, finding=escape(finding)), encoding="latin-1")
    run("xml2dsr", str(xml), str(out))
    xml.unlink()
    assert f"<value>{escape(finding)}</value>" in run("dsr2xml", str(out))
    return out


def make_gsps(out: Path) -> Path:
    """A Grayscale Softcopy Presentation State that ``dcmpsmk`` makes for a shipped CT."""
    run("dcmpsmk", str(shipped("CT_small.dcm")), str(out))
    return out


def make_pdf(out: Path, text: str = "Discharge letter: no findings.") -> Path:
    """An encapsulated PDF: a one-page PDF written by hand, wrapped by ``pdf2dcm``."""
    pdf = out.with_suffix(".pdf")
    pdf.write_bytes(minimal_pdf(text))
    run("pdf2dcm", "+pn", "Example^Anna", "+pi", "P0042", "+pb", "19610203", "+ps", "F",
        "+t", "Discharge letter", str(pdf), str(out))
    pdf.unlink()
    return out


def make_stripped(out: Path) -> Path:
    """A shipped CT image whose Pixel Data element ``dcmodify -e PixelData`` removed."""
    shutil.copyfile(shipped("CT_small.dcm"), out)
    run("dcmodify", "-nb", "-e", "PixelData", str(out))
    return out


def reidentify(source: Path, out: Path, study_uid: str | None = None) -> Path:
    """A copy with new Study, Series and SOP Instance UIDs, another patient, shifted dates.

    ``study_uid`` gives the copies of one study's files the same new Study Instance UID
    (``dcmodify -gst`` makes a new one per file).
    """
    shutil.copyfile(source, out)
    changes = [arg for tag, value in REIDENTIFIED.items() for arg in ("-ma", f"{tag}={value}")]
    study = ["-gst"] if study_uid is None else ["-ma", f"StudyInstanceUID={study_uid}"]
    run("dcmodify", "-nb", "-imt", *study, "-gse", "-gin", *changes, str(out))
    return out


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF 1.4 showing ``text``, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(pdf)
