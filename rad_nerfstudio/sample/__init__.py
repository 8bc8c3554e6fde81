"""Deterministic synthetic talking-portrait sample (``rad-sample``)."""
