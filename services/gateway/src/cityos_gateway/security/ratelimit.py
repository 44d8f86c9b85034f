"""Per-client rate limits shared by every gateway replica: a fixed-window counter in Redis, one pipelined
round trip (INCR + EXPIRE) per request."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from cityos_gateway.auth import AuthProblem
from cityos_gateway.config import RateLimit

_log = logging.getLogger("cityos.gateway.ratelimit")
_PREFIX = "cityos:gateway:rl:"


class RateLimiter:
    """`limit.requests` per client per `limit.window` s; Redis failures let requests through (logged)."""

    def __init__(self, redis: Any, limit: RateLimit, *, now: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._limit = limit
        self._now = now
        self._warned = False

    async def check(self, client: str) -> None:
        """Count one request of `client`; 429 with Retry-After when its window is full."""
        now = self._now()
        window = self._limit.window
        start = int(now // window) * window
        # Hash the client id: keys stay short and never hold anything a caller sent verbatim.
        key = f"{_PREFIX}{hashlib.sha256(client.encode()).hexdigest()[:32]}:{start}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, window + 1)
                count, _ = await pipe.execute()
        except Exception as error:
            if not self._warned:
                _log.warning(
                    "rate limiting unavailable", extra={"event": "ratelimit_down", "error": repr(error)}
                )
                self._warned = True
            return
        self._warned = False
        if int(count) > self._limit.requests:
            retry = max(1, int(start + window - now + 0.999))
            raise AuthProblem(
                "TooManyRequests",
                f"more than {self._limit.requests} requests in {window} s; retry after {retry} s",
                (("retry-after", str(retry)),),
            )
