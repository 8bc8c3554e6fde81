"""Talking-portrait dataparsers, installed as ``rad_nerfstudio.dataparsers``."""
