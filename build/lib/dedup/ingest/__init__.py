"""Ingest: enumerate sources and read DICOM headers without loading what is not needed."""
