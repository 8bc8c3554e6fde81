"""File input/output helpers: atomic writes, media muxing."""
