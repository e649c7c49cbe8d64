"""Deleting what is older than ``conversation_retention_days``: conversations with no
turn since (with their feedback) and the WhatsApp channels' records. A daemon thread
of the server does it at start-up, then every hour; 0 days keeps everything."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from assistant.channels.records import WhatsAppRecords
from assistant.conversations import Conversations

__all__ = ["Retention"]

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600


class Retention:
    """Deletes old conversations and WhatsApp records in the background."""

    def __init__(self, conversations: Conversations, days: int) -> None:
        self.conversations = conversations
        self.records = WhatsAppRecords(conversations.engine)  # its tables exist from here
        self.days = days
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        if self.days:
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def purge(self, now: dt.datetime | None = None) -> tuple[int, int]:
        """(conversations, WhatsApp records) deleted as idle for more than ``days``."""
        cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=self.days)
        return self.conversations.delete_idle(cutoff), self.records.delete_older_than(cutoff)

    def _run(self) -> None:
        while True:
            try:
                conversations, records = self.purge()
                if conversations or records:
                    log.info(
                        "retention (%d days): deleted %d conversations, %d WhatsApp records",
                        self.days,
                        conversations,
                        records,
                    )
            except SQLAlchemyError as exc:  # a busy or unreachable database: next hour
                log.warning("retention could not delete old conversations: %s", exc)
            if self._stop.wait(INTERVAL_SECONDS):
                return
