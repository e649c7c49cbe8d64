"""Request budgets per client (an IP address, a WhatsApp number), counted by `limits`.

A budget is a `limits` string such as ``"30/minute"`` (several: ``"30/minute;500/day"``);
an empty one is no limit. The counts live in memory (one process) or in Redis
(``rate_limit_storage_url``), which several workers or servers then share. Windows are
moving: "30/minute" is at most 30 in any 60 seconds.

When the storage cannot be reached the request is let through and a warning logged:
the assistant staying up matters more than a budget being kept for a while.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from assistant.settings import Settings, masked_url

__all__ = ["Budgets", "Refusal", "parse_budget"]

log = logging.getLogger(__name__)


def parse_budget(text: str) -> list[RateLimitItem]:
    """The limits of a budget string; none for an empty one (ValueError when malformed)."""
    return parse_many(text) if text.strip() else []


@dataclass(frozen=True)
class Refusal:
    """A request over its budget: which limit it broke, and when there is room again."""

    limit: RateLimitItem
    retry_after: int  # whole seconds, at least 1


class Budgets:
    """Named budgets (``"questions"``, ``"whatsapp"``…) counted per client key."""

    def __init__(self, budgets: dict[str, str], storage_url: str = "") -> None:
        self.budgets = {name: parse_budget(text) for name, text in budgets.items()}
        self._storage_url = masked_url(storage_url) if storage_url else "memory"
        # Short socket timeouts: a Redis that hangs must let requests through, not hold them.
        redis = storage_url.startswith("redis")
        options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if redis else {}
        storage = storage_from_string(storage_url or "memory://", wrap_exceptions=True, **options)
        self._warned = 0.0  # when storage trouble was last logged
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> Budgets:
        budgets = {
            "questions": settings.rate_limit,
            "conversations": settings.conversation_rate_limit,
            "refused": settings.refused_rate_limit,
            "feedback": settings.feedback_rate_limit,
            "conversation_feedback": settings.conversation_feedback_rate_limit,
            "reads": settings.reads_rate_limit,
            "helpdesk": settings.helpdesk_rate_limit,
            "key_failures": settings.helpdesk_key_failure_limit,
            "all_key_failures": settings.helpdesk_global_key_failure_limit,
            "whatsapp": settings.whatsapp_rate_limit,
            "handoffs": settings.handoff_rate_limit,
        }
        return cls(budgets, settings.rate_limit_storage_url)

    def describe(self) -> str:
        """What is limited, for the start-up log (the storage URL without its password)."""
        on = [
            f"{name} {'; '.join(map(str, limits))}"
            for name, limits in self.budgets.items()
            if limits
        ]
        return f"rate limits: {', '.join(on) or 'off'} (counted in {self._storage_url})"

    def hit(self, budget: str, key: str) -> Refusal | None:
        """Count one request of ``key`` against ``budget``: None while within it."""
        try:
            # Test every limit before counting: a refused request uses none of the budget.
            refusal = self._refusal(budget, key)
            if refusal is None:
                for limit in self.budgets[budget]:
                    self._limiter.hit(limit, budget, key)
            return refusal
        except StorageError as exc:
            self._storage_failed(exc)
        return None

    def over(self, budget: str, key: str) -> Refusal | None:
        """Whether ``key`` has used up ``budget`` already, without counting anything."""
        try:
            return self._refusal(budget, key)
        except StorageError as exc:
            self._storage_failed(exc)
        return None

    def used(self, budget: str, key: str) -> bool:
        """Whether ``key`` has anything counted in a window of ``budget``."""
        try:
            return any(
                self._limiter.get_window_stats(limit, budget, key).remaining < limit.amount
                for limit in self.budgets[budget]
            )
        except StorageError as exc:
            self._storage_failed(exc)
        return False

    def _refusal(self, budget: str, key: str) -> Refusal | None:
        for limit in self.budgets[budget]:
            if not self._limiter.test(limit, budget, key):
                reset = self._limiter.get_window_stats(limit, budget, key).reset_time
                return Refusal(limit, max(1, math.ceil(reset - time.time())))
        return None

    def _storage_failed(self, exc: StorageError) -> None:
        if time.monotonic() - self._warned > 60:  # once a minute, not once a request
            self._warned = time.monotonic()
            log.warning(
                "rate limit storage unavailable, not limiting: %s",
                type(exc.storage_error).__name__,
            )

    def first_refusal(self, budget: str, key: str, refusal: Refusal) -> bool:
        """True for the first refusal of ``key`` in the window of the limit it broke:
        someone told to slow down is told once, not at every message."""
        limit = refusal.limit
        once = type(limit)(1, limit.multiples, namespace="ONCE")
        try:
            return self._limiter.hit(once, budget, key)
        except StorageError:
            return True
