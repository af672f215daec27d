"""Fingerprints: canonical pixel hash, perceptual hash, study MinHash signatures."""
