"""User-facing input errors: each names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class InputFileError(ValueError):
    """A user's input file is missing, unreadable or inconsistent."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DatasetError(InputFileError):
    """A processed talking-portrait dataset is incomplete or inconsistent."""


class AudioInputError(InputFileError):
    """An audio file cannot be used."""


class OutputFileError(InputFileError):
    """An output file cannot be written (a full disk, say); nothing partial is left at its path."""


class CheckpointError(InputFileError):
    """A checkpoint cannot be loaded: truncated, damaged, or another model's."""
