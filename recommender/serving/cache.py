"""A Redis cache of answers that steps aside, without failing or waiting, when Redis is away."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# How long a request may wait on Redis before the answer is computed without it.
SOCKET_TIMEOUT_SECONDS = 0.25


def connect(url: str) -> redis.Redis:
    """A client that fails fast: short timeouts, no retries (the cache backs off instead)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


def digest(namespace: str, params: Mapping[str, Any]) -> str:
    """A name only these exact parameters map to: the SHA-256 of their canonical JSON encoding."""
    return hashlib.sha256(orjson.dumps([namespace, params], option=orjson.OPT_SORT_KEYS)).hexdigest()


class Cache:
    """Get and set bytes with a TTL; after a Redis error, skip Redis for a while, then retry.

    The pause doubles with each failed retry (from `retry_after` up to `max_retry_after`) so that a
    missing Redis costs one short timeout now and then, never one per request.
    """

    def __init__(
        self,
        client: redis.Redis | None,
        ttl_seconds: int,
        prefix: str = "rec:",
        retry_after: float = 1.0,
        max_retry_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self.retry_after = retry_after
        self.max_retry_after = max_retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._pause = retry_after
        self._failing = False

    @property
    def enabled(self) -> bool:
        return self.client is not None

    @property
    def state(self) -> str:
        """'disabled', 'ok' or 'unavailable' (as of the last attempt)."""
        if self.client is None:
            return "disabled"
        return "unavailable" if self._failing else "ok"

    def get(self, key: str) -> bytes | None:
        """The stored bytes, or None on a miss, when disabled, or when Redis fails."""
        if self.client is None:
            return None
        return self._call(lambda c: c.get(self.prefix + key))

    def set(self, key: str, payload: bytes) -> None:
        """Store payload for ttl_seconds; a Redis failure is logged once, not raised."""
        if self.client is not None:
            self._call(lambda c: c.set(self.prefix + key, payload, ex=self.ttl_seconds))

    def ping(self) -> str:
        """Check Redis now (unless backing off) and return the state."""
        self._call(lambda c: c.ping())
        return self.state

    def _call(self, operation: Callable[[redis.Redis], Any]) -> Any | None:
        if self.client is None or self._clock() < self._down_until:
            return None
        try:
            result = operation(self.client)
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        if self._failing:
            with self._lock:
                self._failing, self._pause = False, self.retry_after
            log.warning("Redis is back; caching again")
        return result

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if not self._failing:
                log.warning("Redis unavailable (%s); answering from the models without the cache", exc)
            else:
                self._pause = min(self._pause * 2, self.max_retry_after)
            self._failing = True
            self._down_until = self._clock() + self._pause


class Memory:
    """A process's latest `entries` values (the oldest goes first), each for `ttl_seconds` from
    when it was kept: the tier of the cache in each worker, in front of Redis."""

    def __init__(self, entries: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.entries = entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._kept: dict[Any, tuple[float, Any]] = {}  # key -> (expires at, value)

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: Any) -> Any | None:
        kept = self._kept.get(key)
        if kept is None:
            return None
        if kept[0] > self._clock():
            return kept[1]
        self._kept.pop(key, None)
        return None

    def keep(self, key: Any, value: Any) -> None:
        if self.entries <= 0:
            return
        if len(self._kept) >= self.entries and key not in self._kept:
            try:
                del self._kept[next(iter(self._kept))]
            except (KeyError, RuntimeError, StopIteration):  # another thread took it first
                pass
        self._kept[key] = (self._clock() + self.ttl_seconds, value)
