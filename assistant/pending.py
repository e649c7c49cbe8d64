"""Work a background thread has accepted and not finished, and a wait until none is left
(the notifier's and the WhatsApp worker's queues)."""

from __future__ import annotations

import threading

__all__ = ["Pending"]


class Pending:
    """A count of accepted, unfinished jobs with a wait for zero."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def add(self) -> None:
        with self._idle:
            self._count += 1

    def done(self) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait(self, worker: threading.Thread) -> bool:
        """Until every job is done (True), however long that takes; False when
        ``worker``, the thread doing them, is gone with jobs left."""
        with self._idle:
            while self._count:
                if not worker.is_alive():
                    return False
                self._idle.wait(1.0)  # then look whether the thread still runs
        return True
