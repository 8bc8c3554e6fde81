"""Ctrl-C (SIGINT) and SIGTERM as requests to stop training at the end of the current iteration."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Callable, Dict

from rich.console import Console

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequests:
    """While installed, the first SIGINT / SIGTERM only records itself (``requested``) and calls ``on_request``;
    a second one exits at once with status ``128 + signal`` (nothing is saved)."""

    def __init__(self, console: Console, on_request: Callable[[], None] | None = None) -> None:
        self.console = console
        self.on_request = on_request
        self.requested: int | None = None
        self._previous: Dict[int, object] = {}

    def install(self) -> None:
        """Take over the stop signals (a no-op outside the main thread, where Python cannot handle signals)."""
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Give the stop signals back to whoever had them."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # pyright: ignore[reportArgumentType]
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:
            self.restore()
            self.console.print(f"[bold red]{name} again: quitting without saving a checkpoint.")
            raise SystemExit(128 + signum)
        self.requested = signum
        self.console.print(
            f"[bold yellow]{name}: stopping after this iteration to save a checkpoint "
            "(send it again to quit without saving)."
        )
        if self.on_request is not None:
            self.on_request()

    def __enter__(self) -> "StopRequests":
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


def exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM raise ``SystemExit(143)`` like Ctrl-C raises KeyboardInterrupt, so that ``finally`` blocks and
    context managers (atomic writers removing their partial files) run; by default SIGTERM ends Python at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handle)
