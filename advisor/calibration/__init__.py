"""Calibration world: a generated fictional domain with known answers, and a tiny model pretrained on it."""
