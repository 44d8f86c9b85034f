"""Lockout: N failures in a sliding window lock the account until enough of them age out."""

from __future__ import annotations

from cityos_identity.lockout import LockoutPolicy

POLICY = LockoutPolicy(threshold=3, window=900)


def test_below_threshold_is_not_locked() -> None:
    assert POLICY.retry_after([], 1000.0) == 0
    assert POLICY.retry_after([990.0, 995.0], 1000.0) == 0


def test_threshold_locks_until_the_oldest_counted_failure_leaves_the_window() -> None:
    failures = [900.0, 950.0, 990.0]
    assert POLICY.retry_after(failures, 1000.0) == 800  # 900 + 900 - 1000
    assert POLICY.retry_after(failures, 1799.0) == 1
    assert POLICY.retry_after(failures, 1800.0) == 0


def test_more_failures_extend_the_lock() -> None:
    failures = [100.0, 900.0, 950.0, 990.0]
    # The failure at 100 is outside the window; the lock ends when 900 ages out.
    assert POLICY.retry_after(failures, 1000.0) == 800
    assert POLICY.retry_after([*failures, 999.0], 1000.0) == 850  # now 950 must age out


def test_future_timestamps_are_ignored() -> None:
    assert POLICY.retry_after([2000.0, 2001.0, 2002.0], 1000.0) == 0
