"""Stopping a run from any thread: a button, a signal handler, a handle in a notebook."""

from __future__ import annotations

import threading
from typing import Callable


class StopSignal:
    """Set from any thread to stop a run cleanly: no new point goes out and those in flight
    are cancelled (the journal keeps them in flight, for ``resume``)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._listeners: list[Callable[[], None]] = []

    def set(self) -> None:
        self._event.set()
        for listener in list(self._listeners):
            listener()

    def is_set(self) -> bool:
        return self._event.is_set()

    def listen(self, listener: Callable[[], None]) -> None:
        """Have ``listener`` called when the signal is set.

        :param listener: Called with no arguments by every :meth:`set`, in the thread that
            sets it (so it should be quick and not raise); called at once, here, if the
            signal is already set.
        """
        self._listeners.append(listener)
        if self.is_set():
            listener()
