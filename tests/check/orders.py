"""An evaluation set of pre-order checks: orders written the way another hospital knows its
patients, against an archive of generated DICOM studies indexed by ``dedup index``.

The archive (:func:`build_order_archive`): studies written by :func:`dedup.synth.write_study`
and then given the descriptions, body parts and series descriptions of other procedures with
pydicom, as a modality would have written them; nothing is inserted into the archive by
hand. The people:

* Anna Novak (F, 1961-04-02), at St. Mary as ``NOVAK^ANNA^MARIA`` and at Klinikum Nord as
  ``Novak^Anna``, each with its own MRN;
* her twin sister Elena (same birth date and surname), two namesakes (``NOVAK^ANNA`` of the
  other sex born the same day, and one born in 1975): their studies are never Anna's;
* Hans Kowalski (M, 1948-11-20), at Riverside and, as ``Kowalski^Hans^Jürgen``, at Klinikum
  Nord, with knee and shoulder studies of known sides.

The orders (:data:`ORDERS`) name the patient under another issuer and MRN (``WESTCLINIC``),
so only name, birth date and sex can find them; each says which priors it must get and the
answer (``yes``, ``possible``, ``no``, ``unknown``): other-hospital identities, namesakes,
twins, wrong laterality, window edges on both sides, priors after the order, other modality
same region, unknown procedures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydicom import dcmread

from dedup.batch import index
from dedup.config import Settings
from dedup.synth import Patient, write_study

ORDER_DATE = date(2024, 6, 15)
ANNA_BORN, HANS_BORN = date(1961, 4, 2), date(1948, 11, 20)
_MARY, _NORD, _RIVER = "St. Mary Hospital", "Klinikum Nord", "Riverside Imaging Center"
RECORDS = {
    "anna": Patient("NOVAK^ANNA^MARIA", "SM0004711", "STMARY", ANNA_BORN, "F", 1),
    "anna_nord": Patient("Novak^Anna", "KN-004711", "KLINORD", ANNA_BORN, "F", 1),
    "twin": Patient("NOVAK^ELENA^MARIA", "SM0004712", "STMARY", ANNA_BORN, "F", 2),
    "namesake_m": Patient("NOVAK^ANNA", "R00004713", "RIVERSIDE", ANNA_BORN, "M", 3),
    "namesake_75": Patient("NOVAK^ANNA", "SM0004714", "STMARY", date(1975, 9, 10), "F", 4),
    "hans": Patient("KOWALSKI^HANS", "R00005001", "RIVERSIDE", HANS_BORN, "M", 5),
    "hans_nord": Patient("Kowalski^Hans^Jürgen", "KN-005001", "KLINORD", HANS_BORN, "M", 5),
}
_INSTITUTION = {"anna": _MARY, "anna_nord": _NORD, "twin": _MARY, "namesake_m": _RIVER,
                "namesake_75": _MARY, "hans": _RIVER, "hans_nord": _NORD}


@dataclass(frozen=True)
class Study:
    """One archived study: who, what the modality wrote, when."""

    key: str
    record: str
    modality: str  # for write_study
    procedure: str  # the synth procedure written first
    day: date
    header: dict[str, str] = field(default_factory=dict)  # then set on every file
    series: tuple[str, ...] = ()  # SeriesDescription by series number (1, 2, ...)


STUDIES = [
    Study("a_ct_head", "anna_nord", "CT", "CT HEAD W/O CONTRAST", date(2024, 5, 1)),
    Study("a_xr_hand_l", "anna", "XR", "XR CHEST 2 VIEWS", date(2024, 6, 1),
          {"StudyDescription": "XR HAND LEFT 3 VIEWS", "BodyPartExamined": "HAND"},
          ("PA", "OBLIQUE")),
    Study("a_xr_knee", "anna", "XR", "XR CHEST 2 VIEWS", date(2024, 5, 20),
          {"StudyDescription": "XR KNEE 2 VIEWS", "BodyPartExamined": "KNEE"}, ("AP", "LAT")),
    Study("a_ct_chest_90", "anna", "CT", "CT CHEST WITH CONTRAST", date(2024, 3, 17)),
    Study("a_ct_ap_91", "anna", "CT", "CT ABDOMEN PELVIS", date(2024, 3, 16)),
    Study("a_ct_ap_after", "anna_nord", "CT", "CT ABDOMEN PELVIS", date(2024, 6, 18)),
    Study("a_mr_brain", "anna", "MR", "MR BRAIN W/O CONTRAST", date(2024, 6, 5)),
    Study("a_rf_fistula", "anna", "XR", "XR CHEST 2 VIEWS", date(2024, 6, 3),
          {"Modality": "RF", "StudyDescription": "FLUORO FISTULOGRAM", "BodyPartExamined": ""},
          ("SCOUT", "CONTRAST")),
    Study("a_xr_hand_r", "anna_nord", "XR", "XR CHEST 2 VIEWS", date(2024, 6, 8),
          {"StudyDescription": "XR HAND RT 3 VIEWS", "BodyPartExamined": "HAND"},
          ("PA", "OBLIQUE")),
    Study("a_xr_knee_r", "anna", "XR", "XR CHEST 2 VIEWS", date(2024, 6, 12),
          {"StudyDescription": "XR KNEE RIGHT 2 VIEWS", "BodyPartExamined": "KNEE"},
          ("AP", "LAT")),
    Study("a_mr_tongue", "anna", "MR", "MR BRAIN W/O CONTRAST", date(2024, 6, 7),
          {"StudyDescription": "MR TONGUE W/O", "BodyPartExamined": "TONGUE"},
          ("AX T1", "AX T2", "COR STIR")),
    Study("twin_ct_head", "twin", "CT", "CT HEAD W/O CONTRAST", date(2024, 6, 10)),
    Study("m_xr_chest", "namesake_m", "XR", "XR CHEST 2 VIEWS", date(2024, 6, 1)),
    Study("n75_mr_knee", "namesake_75", "MR", "MR BRAIN W/O CONTRAST", date(2024, 6, 1),
          {"StudyDescription": "MR KNEE LEFT W/O", "BodyPartExamined": "KNEE"},
          ("COR PD FS", "SAG PD", "AX T2")),
    Study("h_mr_knee_r", "hans", "MR", "MR BRAIN W/O CONTRAST", date(2024, 5, 10),
          {"StudyDescription": "MR KNEE RIGHT W/O", "BodyPartExamined": "KNEE"},
          ("COR PD FS", "SAG PD", "AX T2")),
    Study("h_xr_knees_b", "hans_nord", "XR", "XR CHEST 2 VIEWS", date(2024, 4, 1),
          {"StudyDescription": "XR KNEES BILATERAL STANDING", "BodyPartExamined": "KNEE"},
          ("AP STANDING", "LAT")),
    Study("h_xr_shoulder_l", "hans", "XR", "XR CHEST 2 VIEWS", date(2024, 6, 10),
          {"StudyDescription": "XR SHOULDER 2 VIEWS", "BodyPartExamined": "SHOULDER"},
          ("SHOULDER LT AP", "SHOULDER LT Y VIEW")),
    Study("h_us_abdomen", "hans", "US", "US ABDOMEN COMPLETE", date(2024, 6, 1)),
    Study("h_xr_knee_r", "hans", "XR", "XR CHEST 2 VIEWS", date(2024, 6, 1),
          {"StudyDescription": "XR KNEE RIGHT 2 VIEWS", "BodyPartExamined": "KNEE"},
          ("AP", "LAT")),
]
#: The one ``repeat`` the batch must find: Hans's right knee two months after both knees.
#: A left and a right hand, or a knee of unknown side and a right one, are none.
REPEATS = {("h_xr_knee_r", "h_xr_knees_b")}

#: Anna and Hans as another hospital knows them: its own issuer and MRN, its own spelling.
ANNA = {"name": "Novák^Anna", "birth_date": ANNA_BORN.isoformat(), "sex": "F",
        "issuer": "WESTCLINIC", "patient_id": "W-99812"}
HANS = {"name": "KOWALSKI^HANS", "birth_date": HANS_BORN.isoformat(), "sex": "M",
        "issuer": "WESTCLINIC", "patient_id": "W-10077"}
ELENA = {**ANNA, "name": "NOVAK^ELENA", "patient_id": "W-99813"}
NOBODY = {**ANNA, "birth_date": "1961-04-03", "patient_id": "W-99814"}


@dataclass(frozen=True)
class Order:
    """An order, the priors it must get and the answer.

    ``priors`` are study keys, most recent first, each a ``yes`` prior or, ending in ``?``,
    a ``possible`` one.
    """

    what: str
    who: dict[str, str]
    fields: dict[str, str]
    priors: tuple[str, ...]
    answer: str
    order_date: date = ORDER_DATE


def _order(what: str, who: dict[str, str], priors: tuple[str, ...], answer: str,
           when: date = ORDER_DATE, **fields: str) -> Order:
    return Order(what, who, fields, priors, answer, when)


ORDERS = [
    # the other hospital's identity finds both of Anna's records
    _order("CT head by CPT code", ANNA, ("a_ct_head",), "yes", code="CPT:70450"),
    _order("CT head by RadLex Playbook code", ANNA, ("a_ct_head",), "yes", code="RPID22"),
    _order("CT head by description", ANNA, ("a_ct_head",), "yes", modality="CT",
           description="CT head without contrast"),
    # other modality, same region: a CT is no prior for an MR and the other way round
    _order("MR brain", ANNA, ("a_mr_brain",), "yes", procedure="MR BRAIN"),
    _order("MR head: HEAD and BRAIN are one region", ANNA, ("a_mr_brain",), "yes",
           procedure="MR HEAD"),
    # laterality
    _order("XR hand left (the issue's order)", ANNA, ("a_xr_hand_l",), "yes", modality="CR",
           body_part="HAND", description="XR Hand left 3 views"),
    _order("XR hand right: the right hand's study, never the left's", ANNA, ("a_xr_hand_r",),
           "yes", modality="CR", body_part="HAND", description="XR Hand 3 views",
           laterality="R"),
    _order("XR hands bilateral: each hand covers one side", ANNA,
           ("a_xr_hand_r?", "a_xr_hand_l?"), "possible", modality="DX",
           description="XR hand 3 views", laterality="B"),
    _order("XR hand, side not given", ANNA, ("a_xr_hand_r?", "a_xr_hand_l?"), "possible",
           procedure="XR HAND"),
    _order("XR knee left: the right knee never, the knee of unknown side possibly", ANNA,
           ("a_xr_knee?",), "possible", modality="DX", description="XR knee left 2 views"),
    _order("XR knee right", ANNA, ("a_xr_knee_r", "a_xr_knee?"), "yes", modality="DX",
           description="XR knee rt 2 views"),
    # the window's edges, and a study after the order date
    _order("CT chest 90 days after a CT chest: inside", ANNA, ("a_ct_chest_90",), "yes",
           procedure="CT CHEST"),
    _order("CT chest 91 days after: outside", ANNA, (), "no", date(2024, 6, 16),
           procedure="CT CHEST"),
    _order("CT abdomen pelvis: 91 days before and 3 days after the order", ANNA, (), "no",
           procedure="CT ABDOMEN PELVIS"),
    _order("CT abdomen pelvis on the day of the later study", ANNA, ("a_ct_ap_after",), "yes",
           date(2024, 6, 18), procedure="CT ABDOMEN PELVIS"),
    _order("CT abdomen pelvis 90 days after the earlier study", ANNA, ("a_ct_ap_91",), "yes",
           date(2024, 6, 14), procedure="CT ABDOMEN PELVIS"),
    # unknown procedures: never exit 2, say what was done
    _order("fluoroscopy fistulogram: no body region", ANNA, (), "unknown", modality="RF",
           description="Fluoro fistulogram"),
    _order("MR of a body part no vocabulary knows", ANNA, ("a_mr_tongue?",), "possible",
           modality="MR", body_part="TONGUE"),
    _order("NM bone scan: a region with no prior", ANNA, (), "no", modality="NM",
           description="NM bone scan whole body"),
    # namesakes and the twin never count
    _order("XR chest: only a namesake of the other sex has one", ANNA, (), "no",
           procedure="XR CHEST"),
    _order("MR knee: only a namesake born in 1975 has one", ANNA, (), "no", procedure="MR KNEE"),
    _order("the twin's CT head is hers, not Anna's", ELENA, ("twin_ct_head",), "yes",
           procedure="CT HEAD"),
    _order("a birth date nobody has", NOBODY, (), "no", procedure="CT HEAD"),
    # Hans: sides recorded in descriptions and series descriptions
    _order("MR knee left: the right knee is no prior", HANS, (), "no", modality="MR",
           description="MRI knee left"),
    _order("MR knee right", HANS, ("h_mr_knee_r",), "yes", procedure="MR KNEE",
           laterality="RIGHT"),
    _order("MR knee, side not given", HANS, ("h_mr_knee_r?",), "possible",
           procedure="MR KNEE"),
    _order("XR knee left: bilateral knees cover it", HANS, ("h_xr_knees_b",), "yes",
           procedure="XR KNEE", laterality="L"),
    _order("XR knees bilateral", HANS, ("h_xr_knee_r?", "h_xr_knees_b"), "yes", modality="CR",
           description="XR both knees standing"),
    _order("XR shoulder right: the left shoulder is no prior", HANS, (), "no", modality="DX",
           body_part="SHOULDER", laterality="R"),
    _order("XR shoulder left (side only in the series descriptions)", HANS,
           ("h_xr_shoulder_l",), "yes", modality="DX", body_part="SHOULDER", laterality="L"),
    _order("US abdomen", HANS, ("h_us_abdomen",), "yes", procedure="US ABDOMEN"),
    _order("CT abdomen: an ultrasound of the abdomen is no prior", HANS, (), "no",
           modality="CT", description="CT abdomen with contrast"),
]


def build_order_archive(root: Path) -> tuple[Path, dict[str, str]]:
    """Write the studies, index them with ``dedup index`` (published).

    Returns:
        The archive and each study key's StudyInstanceUID.

    """
    uids = {}
    for n, study in enumerate(STUDIES):
        folder = root / "dicom" / study.key
        uids[study.key] = write_study(
            folder, modality=study.modality, patient=RECORDS[study.record], seed=1000 + n,
            study_date=study.day, institution=_INSTITUTION[study.record], slices=2,
            procedure=study.procedure)
        _rewrite(folder, study)
    archive = root / "archive.duckdb"
    index([root / "dicom"], Settings(archive=str(archive), workers=1))
    return archive, uids


def _rewrite(folder: Path, study: Study) -> None:
    """Give every file the study's header values (as its modality would have written them)."""
    if not study.header and not study.series:
        return
    for path in sorted(folder.rglob("*.dcm")):
        ds = dcmread(path)
        for keyword, value in study.header.items():
            setattr(ds, keyword, value)
        if study.series:
            ds.SeriesDescription = study.series[int(ds.SeriesNumber) - 1]
            ds.ProtocolName = study.series[int(ds.SeriesNumber) - 1]
        if "StudyDescription" in study.header and "ProcedureCodeSequence" in ds:
            del ds.ProcedureCodeSequence  # the code of the procedure first written
        ds.save_as(path)
