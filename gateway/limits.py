"""In-process limits of the HTTP gateway: per-user rate limit and turns per session.

Both are thread-safe: the gateway's ASGI loop admits requests and the AgentCore app runs
handlers on its own worker loop.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED_USERS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``rate`` per second."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``rate`` tokens per second up to ``burst``; ``clock`` is injectable for tests."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one token of ``key``: ``None`` if allowed, else seconds until one is free."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED_USERS:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (they behave exactly like new ones)."""
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[key]


def retry_after_header(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class TurnGate:
    """Turns in progress per session: one running plus at most ``queue_depth`` waiting.

    The session workflow runs turns one at a time in arrival order; the gate only bounds
    how many a gateway lets pile up for one session (the caller answers 409 past it).
    """

    def __init__(self, queue_depth: int) -> None:
        """Allow ``1 + queue_depth`` turns in progress per session."""
        if queue_depth < 0:
            raise ValueError("queue_depth must be zero or more")
        self.limit = 1 + queue_depth
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, key: str) -> bool:
        """Count a turn for session ``key``; False (nothing counted) if it is full."""
        with self._lock:
            count = self._active.get(key, 0)
            if count >= self.limit:
                return False
            self._active[key] = count + 1
            return True

    def leave(self, key: str) -> None:
        """The turn counted by a successful :meth:`enter` is over."""
        with self._lock:
            count = self._active.get(key, 0) - 1
            if count > 0:
                self._active[key] = count
            else:
                self._active.pop(key, None)

    def in_progress(self, key: str | None = None) -> int:
        """Turns in progress for ``key``, or for every session."""
        with self._lock:
            if key is not None:
                return self._active.get(key, 0)
            return sum(self._active.values())
