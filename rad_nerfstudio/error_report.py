"""How a user error reaches the terminal: one red line naming the file and the problem, exit status 2, no
traceback, under our own commands and under nerfstudio's (``ns-train``, ``ns-eval``, ``ns-viewer``), where our
code runs as a plugin and the error would otherwise end the process with a traceback. Setting
``RAD_NERFSTUDIO_TRACEBACK=1`` brings the traceback back (for debugging).
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

TRACEBACK_VARIABLE = "RAD_NERFSTUDIO_TRACEBACK"
USER_ERROR_STATUS = 2
"""Exit status of a user error (as tyro and argparse use for a bad command line)."""


def tracebacks_wanted() -> bool:
    """Whether ``RAD_NERFSTUDIO_TRACEBACK`` asks for full tracebacks."""
    return os.environ.get(TRACEBACK_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def print_user_error(command: str, error: BaseException) -> None:
    """``command: error`` in bold red on the console, the error's text taken literally (no markup)."""
    from rich.console import Console
    from rich.text import Text

    Console(soft_wrap=True).print(Text(f"{command}: {error}", style="bold red"))


def _command_name() -> str:
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "rad-nerfstudio"


def install_error_hook() -> None:
    """Make an uncaught ``InputFileError`` (and subclasses) in the main thread print as one line and exit with
    status 2; every other exception goes to the hook that was there before. Installing twice is harmless."""
    previous = sys.excepthook
    if getattr(previous, "rad_nerfstudio_hook", False):
        return

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        from rad_nerfstudio.errors import InputFileError

        if not issubclass(kind, InputFileError) or tracebacks_wanted():
            previous(kind, error, trace)
            return
        print_user_error(_command_name(), error)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(USER_ERROR_STATUS)  # after a hook the interpreter exits with 1, and waits for any other thread

    hook.rad_nerfstudio_hook = True  # pyright: ignore[reportFunctionMemberAccess]
    sys.excepthook = hook
