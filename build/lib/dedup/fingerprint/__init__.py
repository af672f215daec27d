"""Fingerprints: canonical pixel hash, acquisition signature, study MinHash signatures."""
