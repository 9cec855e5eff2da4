"""The limits on POST /feedback: events per user_id and per client address, in fixed windows.

Counted with `limits` (the library Flask-Limiter is built on), called by the feedback view
alone: Flask-Limiter's hooks ran on every request of every route, a sixth of a worker's time
under load, to limit one route. Counts live in Redis when the service has one, so every worker
and replica shares them; otherwise each process counts alone. When Redis fails the limits are
open (an event is worth more than a limit) and are not tried again for a few seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from config import Config
from recommender.validation import MAX_ID_LENGTH

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS = 0.1  # a post waits at most this long on Redis for its count
OPEN_AFTER_FAILURE_SECONDS = 5.0  # the limits stay open this long after Redis failed


class EventLimits:
    """FEEDBACK_RATE_LIMIT per user_id and FEEDBACK_CLIENT_RATE_LIMIT per client address."""

    def __init__(self, config: Config, shared: bool, clock: Callable[[], float] = time.monotonic) -> None:
        rules = [
            (config.feedback_rate_limit, "user", "for this user_id"),
            (config.feedback_client_rate_limit, "client", "from this client address"),
        ]
        self.rules = [(parse(rate), kind, what) for rate, kind, what in rules if rate is not None]
        options = {"socket_timeout": SOCKET_TIMEOUT_SECONDS, "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS}
        storage = (
            storage_from_string(config.redis_url, wrap_exceptions=True, **options)
            if shared and self.rules
            else storage_from_string("memory://")
        )
        self.windows = FixedWindowRateLimiter(storage)
        self.prefix = f"{config.cache_key_prefix}feedback-limit"
        self._clock = clock
        self._open_until = 0.0

    def check(self, user_id: object, client: str | None) -> None:
        """Count one event of `user_id` (the body's, as sent) from `client`; 429 over a limit."""
        if not self.rules or self._clock() < self._open_until:
            return
        keys = {"user": f"user:{str(user_id).strip()[:MAX_ID_LENGTH]}" if user_id is not None else "no-user"}
        keys["client"] = f"client:{client or 'unknown'}"
        try:
            for item, kind, what in self.rules:
                if not self.windows.hit(item, self.prefix, keys[kind]):
                    raise TooManyEvents(item, what, self._seconds_left(item, keys[kind]))
        except StorageError as exc:
            self._open_until = self._clock() + OPEN_AFTER_FAILURE_SECONDS
            log.warning("feedback limits open for %.0f s: Redis failed (%s)", OPEN_AFTER_FAILURE_SECONDS, exc)

    def _seconds_left(self, item: RateLimitItem, key: str) -> int:
        reset_at = self.windows.get_window_stats(item, self.prefix, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))


class TooManyEvents(TooManyRequests):
    """429 with Retry-After: the seconds until the window that was full starts again."""

    def __init__(self, item: RateLimitItem, what: str, retry_after: int) -> None:
        message = f"more than {item} feedback events {what}; retry after Retry-After seconds"
        super().__init__(message, retry_after=retry_after)
