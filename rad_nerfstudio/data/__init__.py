"""Talking-portrait data: dataset reading and validation, per-frame tables, data manager, pixel samplers."""
