"""What every rad-nerfstudio command shares: its console, and user errors as one red line and exit status 2."""

from __future__ import annotations

from typing import Callable, TypeVar

from rich.console import Console

CONSOLE = Console(soft_wrap=True)
T = TypeVar("T")


def run_or_exit(command: str, work: Callable[[], T]) -> T:
    """``work()``; a user error (bad input file or option, existing output) prints why and exits with status 2."""
    try:
        return work()
    except (ValueError, FileExistsError) as err:  # InputFileError is a ValueError
        CONSOLE.print(f"[bold red]{command}: {err}")
        raise SystemExit(2) from err
