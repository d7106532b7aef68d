"""Ctrl-C and SIGTERM for the command line: the first stops the run cleanly, a second quits."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

logger = logging.getLogger("dask_bo")

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class Interrupts:
    """While active (in the main thread), the first SIGINT or SIGTERM raises
    KeyboardInterrupt there: the driver cancels what is in flight, journals the stop and
    raises :class:`~dask_bo.api.RunInterrupted`. A second one quits at once (exit 130).

    Python drops an exception raised where it cannot propagate (a gc callback, ``__del__``):
    in case the first one was dropped so, :attr:`stop` (the run's StopSignal) is set
    :attr:`grace_s` later from a thread of its own, unless the command finished by then.
    After a signal, exceptions Python cannot raise are its echoes and are not printed.
    """

    grace_s = 3.0

    def __init__(self) -> None:
        from .stop import StopSignal

        self.stop = StopSignal()
        self.received = threading.Event()
        self._done = threading.Event()
        self._wake = threading.Event()  # a signal, or the end of the command
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread receives signals
        self._previous = {s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)}
        self._unraisable_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        threading.Thread(target=self._stop_if_dropped, name="dask-bo-interrupts", daemon=True).start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._done.set()
        self._wake.set()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._previous:
            sys.unraisablehook = self._unraisable_hook

    def check(self) -> None:
        """Raise KeyboardInterrupt if a signal came (the run may have ended by :attr:`stop`)."""
        if self.received.is_set():
            raise KeyboardInterrupt

    def _handler(self, signum: int, frame: Any) -> None:
        if self.received.is_set():
            try:
                sys.stderr.write("interrupted again: quitting now\n")
                sys.stderr.flush()
            finally:
                os._exit(EXIT_INTERRUPTED)
        self.received.set()
        self._wake.set()
        raise KeyboardInterrupt

    def _stop_if_dropped(self) -> None:
        self._wake.wait()
        if not self._done.is_set() and not self._done.wait(self.grace_s):
            logger.debug("the interrupt did not stop the run within %g s: stopping it", self.grace_s)
            self.stop.set()

    def _unraisable(self, unraisable: Any) -> None:
        if self.received.is_set():
            logger.debug("after the interrupt: %r in %r", unraisable.exc_value, unraisable.object)
            return
        self._unraisable_hook(unraisable)
