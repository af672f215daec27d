"""An instance's side from its DICOM tags: Image, Frame and series Laterality.

DICOM records the side three ways: Image Laterality (0020,0062: ``L``, ``R``, ``B`` both, ``U``
unpaired) on the image, Frame Laterality (0020,9072, same values) in an enhanced image's Frame
Anatomy functional group, and Laterality (0020,0060: ``L`` or ``R``) on the series. The most
specific one present wins; a value outside those letters counts as absent. How a study's side
follows from its instances' and from the words of its descriptions is
:func:`dedup.match.procedures.classify_procedure`'s business.
"""

from __future__ import annotations

#: The letters Image and Frame Laterality take (Laterality takes only L and R).
LETTERS = frozenset({"L", "R", "B", "U"})


def tag_laterality(image: str, frame: str, series: str) -> str:
    """The side the tags give: ``L``, ``R``, ``B``, ``U`` or ``""`` (none given).

    Args:
        image: Image Laterality.
        frame: Frame Laterality (of the first frame, or shared by all).
        series: the series' Laterality.

    """
    for value, allowed in ((image, LETTERS), (frame, LETTERS), (series, {"L", "R"})):
        letter = value.strip().upper()
        if letter in allowed:
            return letter
    return ""
