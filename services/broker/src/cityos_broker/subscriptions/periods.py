"""timeInterval periods in Redis: a durable "period sent" marker and a lease that guards work in progress.

A period is done when its marker says so, and the marker is written by the same script that queues the
period's notification: a replica that takes the lease and dies before queuing leaves the period not done,
and any replica that finds it so once the lease has expired does it. A late duplicate (a lease that
expired while its owner was still working) is refused by the script, so each period is queued at most
once; its notification id is stable per (subscription, period) as well.

Keys (tenant slot): `lease:interval:<sub>:<period>` (the work lease, SET NX PX) and
`lease:interval-done:<sub>:<interval>` (the last period queued; the interval is part of the name, so a
changed timeInterval, which renumbers periods, starts afresh; it expires after a few periods).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from cityos_runtime.redis_connect import RedisClient

from cityos_broker.store.scripts import LuaScript
from cityos_broker.subscriptions.queue import Pending, pending_fields
from cityos_broker.subscriptions.store import SubscriptionKeys

# KEYS: 1 done marker, 2 lease. ARGV: 1 period, 2 owner, 3 lease ms.
# Returns 0 (done already), 1 (lease taken or already ours), 2 (another replica holds the lease).
_CLAIM = LuaScript("""
local done = redis.call('GET', KEYS[1])
if done and tonumber(done) >= tonumber(ARGV[1]) then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
if redis.call('GET', KEYS[2]) == ARGV[2] then return 1 end
return 2
""")
# KEYS: 1 done marker, 2 notify stream. ARGV: 1 period, 2 marker ms, 3.. notify-entry fields (none: the
# period is marked done with nothing to send). Returns 1 when queued / marked, 0 when done already.
_FINISH = LuaScript("""
local done = redis.call('GET', KEYS[1])
if done and tonumber(done) >= tonumber(ARGV[1]) then return 0 end
if #ARGV > 2 then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
""")


class Claim(Enum):
    """What a replica may do about a period."""

    DONE = 0  # queued already (by anyone)
    MINE = 1  # this replica holds the work lease
    BUSY = 2  # another replica is working on it; look again once its lease may have expired


def _interval_name(interval: float) -> str:
    return format(interval, "g")


class PeriodLedger:
    """Claims and finishes timeInterval periods for one replica (`owner`)."""

    def __init__(self, redis: RedisClient, owner: str) -> None:
        self._redis = redis
        self._owner = owner

    @staticmethod
    def keys(tenant: str, sub_id: str, interval: float, period: int) -> tuple[str, str]:
        """(done marker, lease) of one subscription period."""
        keys = SubscriptionKeys(tenant)
        done = keys.lease("interval-done", f"{sub_id}:{_interval_name(interval)}")
        return done, keys.lease("interval", f"{sub_id}:{period}")

    async def claim(self, tenant: str, sub_id: str, interval: float, period: int, lease_s: float) -> Claim:
        """Take the period's work lease unless the period is done or another replica works on it."""
        done, lease = self.keys(tenant, sub_id, interval, period)
        reply = await _CLAIM.run(
            self._redis, [done, lease], [str(period), self._owner, str(max(1, int(lease_s * 1000)))]
        )
        if not isinstance(reply, int):
            raise RuntimeError(f"unexpected period claim reply {reply!r}")
        return Claim(reply)

    async def finish(
        self, tenant: str, sub_id: str, interval: float, period: int, pending: Pending | None
    ) -> bool:
        """Queue the period's notification (if any) and mark the period done, atomically.

        False when the period was done already (the notification was not queued again).
        """
        done, _ = self.keys(tenant, sub_id, interval, period)
        # The marker outlives the period it names by a few periods (it only ever blocks that period).
        marker_ms = max(60_000, int(interval * 3000))
        args: list[Any] = [str(period), str(marker_ms)]
        if pending is not None:
            for name, value in pending_fields(pending).items():
                args += [name, value]
        reply = await _FINISH.run(self._redis, [done, SubscriptionKeys(tenant).notify], args)
        return bool(reply)
