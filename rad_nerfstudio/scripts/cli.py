"""What every rad-nerfstudio command shares: its console, and user errors as one red line and exit status 2
(``RAD_NERFSTUDIO_TRACEBACK=1``: the traceback instead)."""

from __future__ import annotations

from typing import Callable, TypeVar

from rich.console import Console

from rad_nerfstudio.error_report import USER_ERROR_STATUS, print_user_error, tracebacks_wanted

CONSOLE = Console(soft_wrap=True)
T = TypeVar("T")


def run_or_exit(command: str, work: Callable[[], T]) -> T:
    """``work()``; a user error (bad input file or option, existing output) prints why and exits with status 2."""
    try:
        return work()
    except (ValueError, FileExistsError) as err:  # InputFileError is a ValueError
        if tracebacks_wanted():
            raise
        print_user_error(command, err)
        raise SystemExit(USER_ERROR_STATUS) from err
