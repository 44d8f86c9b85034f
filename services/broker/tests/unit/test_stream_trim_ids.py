"""Stream id parsing and the per-group bound of the change-stream trimmer."""

from __future__ import annotations

from cityos_broker.store.stream_trim import format_stream_id, oldest_needed, parse_stream_id


def test_ids_parse_and_format_round_trip() -> None:
    assert parse_stream_id(b"1700000000000-12") == (1_700_000_000_000, 12)
    assert parse_stream_id("5") == (5, 0)
    assert format_stream_id((1_700_000_000_000, 12)) == "1700000000000-12"


def test_ids_compare_numerically_not_lexically() -> None:
    assert parse_stream_id("9-0") < parse_stream_id("10-0")
    assert parse_stream_id("10-9") < parse_stream_id("10-10")


def test_a_group_without_pending_entries_needs_its_position() -> None:
    assert oldest_needed((10, 3), None) == (10, 3)


def test_an_older_pending_entry_bounds_the_group() -> None:
    assert oldest_needed((10, 3), (7, 0)) == (7, 0)
    assert oldest_needed((10, 3), (10, 3)) == (10, 3)
