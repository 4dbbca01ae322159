"""Waiting between retries, in one place: exponential backoff with jitter, `Retry-After` honoured, every wait logged.

Each remote backend decides *whether* a failure is worth retrying (its own error mapping); this module decides *how
long* to wait and says so in the log, with the backend and the reason, so a Slurm log shows why a job is slow.

    policy = Backoff(base=2.0, cap=60.0)
    wait = policy.wait(attempt, retry_after=resp.headers.get("Retry-After"))
    policy.sleep(attempt, backend="deepl", reason="429 Too Many Requests", retry_after=...)

Jitter (±20 %) spreads the retries of many workers hitting one rate limit; it comes from a seeded generator, so a
test sees the same waits every time.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from dataclasses import dataclass, field

log = logging.getLogger("translate.retry")

JITTER = 0.2


def parse_retry_after(value: object) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date. None when absent or unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Backoff:
    """`base` seconds before the first retry, doubling per attempt up to `cap`, ±20 % jitter. A server's
    `Retry-After` wins when it asks for longer (it knows its own limits), capped at `max_retry_after`."""

    base: float = 1.0
    cap: float = 60.0
    max_retry_after: float = 600.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def wait(self, attempt: int, retry_after: object = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        exponential = min(self.base * (2 ** attempt), self.cap)
        wait = exponential * (1 - JITTER + 2 * JITTER * self._rng.random())
        asked = parse_retry_after(retry_after)
        if asked is not None:
            wait = max(wait, min(asked, self.max_retry_after))
        return wait

    def announce(self, wait: float, attempt: int, backend: str, reason: str) -> None:
        log.warning("%s: %s; retry %d in %.1fs", backend, reason, attempt + 1, wait)

    def sleep(self, attempt: int, backend: str, reason: str, retry_after: object = None) -> float:
        """Wait (blocking) before retry `attempt`, logging why; returns the seconds waited."""
        wait = self.wait(attempt, retry_after)
        self.announce(wait, attempt, backend, reason)
        time.sleep(wait)
        return wait

    async def asleep(self, attempt: int, backend: str, reason: str, retry_after: object = None) -> float:
        """`sleep` for asyncio code."""
        wait = self.wait(attempt, retry_after)
        self.announce(wait, attempt, backend, reason)
        await asyncio.sleep(wait)
        return wait
