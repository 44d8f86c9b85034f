"""Brute-force lockout: N failed logins within a sliding window lock the account until they age out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`threshold` failures within `window` seconds lock the account."""

    threshold: int
    window: int

    def retry_after(self, failures: Sequence[float], now: float) -> int:
        """Seconds until a login may be tried again (0 = not locked), given the failure timestamps."""
        recent = sorted(t for t in failures if now - self.window < t <= now)
        if len(recent) < self.threshold:
            return 0
        # The account unlocks when enough failures leave the window to drop below the threshold.
        unlock_at = recent[len(recent) - self.threshold] + self.window
        return max(1, int(unlock_at - now + 0.999))
