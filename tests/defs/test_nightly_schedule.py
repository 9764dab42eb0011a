"""The nightly partition schedule and time zones (issue 12): a local date is materialized
only once it has ended in every zone of the registry, each date once, soon after.

The expectations are computed here with zoneinfo from the registry's zones, hour by hour
over days around a DST change, not from roomcal's schedule code."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import build_schedule_context

from roomcal_pipeline.definitions import build_defs
from roomcal_pipeline.defs.resources import RoomcalResource

REGISTRY = """email,name,building,floor,capacity,timezone,business_hours,business_days
la-1@contoso.example,LA One,Los Angeles,1,6,America/Los_Angeles,,
blr-1@contoso.example,Bengaluru One,Bengaluru,1,8,Asia/Kolkata,,
"""
ZONES = ("America/Los_Angeles", "Asia/Kolkata")


def local_end(day: date, zone: str) -> datetime:
    """The instant a local date ends in a zone: midnight of the next day there."""
    return datetime.combine(day + timedelta(days=1), time(), ZoneInfo(zone)).astimezone(UTC)


def ticks(schedule, context_for, start: datetime, hours: int) -> list[tuple[datetime, str]]:
    out = []
    for n in range(hours):
        when = start + timedelta(hours=n, minutes=20)
        result = schedule.evaluate_tick(context_for(when))
        out += [(when, r.partition_key) for r in result.run_requests]
        assert all(r.run_key == r.partition_key for r in result.run_requests)
    return out


@pytest.fixture
def schedule_and_context(tmp_path):
    defs = build_defs(date(2024, 1, 1))
    rooms = tmp_path / "rooms.csv"
    rooms.write_text(REGISTRY, encoding="utf-8")
    resource = RoomcalResource(rooms_file=str(rooms))
    schedule = defs.resolve_schedule_def("daily_partition_schedule")

    def context_for(when: datetime):
        return build_schedule_context(
            scheduled_execution_time=when,
            resources={"roomcal": resource},
            repository_def=defs.get_repository_def(),
        )

    return schedule, context_for


@pytest.mark.parametrize("around", [date(2026, 3, 7), date(2026, 11, 1), date(2026, 6, 15)])
def test_a_date_runs_only_after_it_ended_in_every_zone(schedule_and_context, around):
    schedule, context_for = schedule_and_context
    start = datetime.combine(around, time(), UTC)
    requested = ticks(schedule, context_for, start, 24 * 3)
    first_seen: dict[str, datetime] = {}
    for when, key in requested:
        first_seen.setdefault(key, when)
        day = date.fromisoformat(key)
        for zone in ZONES:  # never before the date has ended everywhere
            assert when >= local_end(day, zone), (key, when, zone)
    days = sorted(date.fromisoformat(k) for k in first_seen)
    # Every date in between, none skipped, and each soon after it ended in the last zone.
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]
    assert len(days) >= 3
    for key, when in first_seen.items():
        ended = max(local_end(date.fromisoformat(key), zone) for zone in ZONES)
        if ended >= start:  # dates that end while the ticks are watched
            assert when - ended <= timedelta(hours=2, minutes=20), (key, when, ended)


def test_the_date_follows_the_westernmost_zone(schedule_and_context):
    """At 03:20 UTC (the old fixed time) Monday is still Monday evening in Los Angeles."""
    schedule, context_for = schedule_and_context
    monday = date(2026, 11, 23)
    at_3 = datetime.combine(monday + timedelta(days=1), time(3, 20), UTC)
    keys = [r.partition_key for r in schedule.evaluate_tick(context_for(at_3)).run_requests]
    assert keys == [(monday - timedelta(days=1)).isoformat()]
    at_9 = datetime.combine(monday + timedelta(days=1), time(9, 20), UTC)  # 01:20 in LA
    keys = [r.partition_key for r in schedule.evaluate_tick(context_for(at_9)).run_requests]
    assert keys == [monday.isoformat()]


def test_without_a_registry_the_tick_is_skipped_with_the_reason(tmp_path):
    defs = build_defs(date(2024, 1, 1))

    schedule = defs.resolve_schedule_def("daily_partition_schedule")
    missing = RoomcalResource(rooms_file=str(tmp_path / "nope.csv"))
    result = schedule.evaluate_tick(
        build_schedule_context(
            scheduled_execution_time=datetime(2026, 12, 1, 9, 20, tzinfo=UTC),
            resources={"roomcal": missing},
            repository_def=defs.get_repository_def(),
        )
    )
    assert result.run_requests == [] and "ROOMCAL_ROOMS_FILE" in result.skip_message
