"""The revoked-token list: polled from the identity service every few seconds, checked in memory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

_log = logging.getLogger("cityos.gateway.auth")

# (since) -> ListRevokedTokensResponse-like object with .tokens (jti, expires_at) and .as_of
RevocationFetch = Callable[[int], Awaitable[Any]]


class RevocationList:
    """Revoked `jti`s until they expire. Revocation reaches the gateway within one poll interval."""

    def __init__(
        self, fetch: RevocationFetch, *, interval: float = 5.0, now: Callable[[], float] = time.time
    ) -> None:
        self._fetch = fetch
        self._interval = interval
        self._now = now
        self._revoked: dict[str, int] = {}  # jti -> expires_at (Unix s)
        self._as_of = 0
        self._task: asyncio.Task[None] | None = None

    def is_revoked(self, jti: str) -> bool:
        """Whether the token with this id was revoked (as of the last poll)."""
        return jti in self._revoked

    async def poll_once(self) -> bool:
        """Fetch revocations since the last poll and drop expired ones; False when identity is unreachable."""
        try:
            reply = await self._fetch(self._as_of)
        except Exception as error:
            _log.warning(
                "cannot poll revocations", extra={"event": "revocations_failed", "error": repr(error)}
            )
            return False
        for token in reply.tokens:
            self._revoked[token.jti] = int(token.expires_at)
        self._as_of = int(reply.as_of)
        now = self._now()
        for jti in [j for j, expires in self._revoked.items() if expires and expires < now]:
            del self._revoked[jti]
        return True

    def start(self) -> None:
        """Poll in the background until `close()`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="revocation-poller")

    async def _run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        """Stop the background poll."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
