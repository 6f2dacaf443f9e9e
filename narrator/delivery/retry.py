"""Retrying a send: exponential backoff with jitter, capped, only for failures that may go away.

A transport raises ``SendFailure(reason, transient=...)``. Transient ones (connection refused or reset,
timeouts, unreachable or unknown hosts, HTTP 408/425/429/5xx, SMTP 4xx) are retried up to
``RetryPolicy.attempts`` times in all, waiting ``min(cap, base * factor**n)`` seconds scaled by a random
factor in [1 - jitter, 1] between attempts (a server's ``Retry-After`` is honoured when it is within the cap).
Permanent ones (other HTTP 4xx, SMTP 5xx such as a refused password, TLS certificate failures, invalid
addresses) are not retried: retrying cannot fix them.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

__all__ = ["RetryPolicy", "SendFailure", "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class SendFailure(Exception):
    """One failed attempt; ``reason`` is a clause fit for "not delivered to X: <reason>"."""

    def __init__(self, reason: str, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4          # in all, the first one included
    base: float = 1.0          # seconds before the second attempt
    factor: float = 2.0
    cap: float = 30.0          # no single wait is longer
    jitter: float = 0.5        # each wait is scaled by a random factor in [1 - jitter, 1]

    def delay(self, retry: int, rng: Callable[[], float] = random.random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the second attempt)."""
        if retry_after is not None and 0 <= retry_after <= self.cap:
            return float(retry_after)
        wait = min(self.cap, self.base * self.factor ** (retry - 1))
        return wait * (1.0 - self.jitter * rng())


NO_RETRY = RetryPolicy(attempts=1)


def with_retries(send: Callable[[], T], policy: RetryPolicy, *, what: str = "",
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> tuple[T, int]:
    """``(send(), attempts used)``; the last ``SendFailure`` propagates with ``.attempts`` set on it."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return send(), attempt
        except SendFailure as failure:
            failure.attempts = attempt  # type: ignore[attr-defined]
            if not failure.transient or attempt >= max(1, policy.attempts):
                raise
            wait = policy.delay(attempt, rng, failure.retry_after)
            log.info("delivery to %s failed (%s); attempt %d of %d in %.1f s", what, failure.reason, attempt + 1,
                     policy.attempts, wait)
            sleep(wait)
