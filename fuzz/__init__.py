"""Fuzzing of the DICOM reading path (see fuzz_read.py and ``make fuzz``)."""
