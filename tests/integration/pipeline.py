"""Helpers for integration tests: the simulated tenant served over HTTP, and what the
warehouse holds, read back with plain SQL."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from roomcal_pipeline.simulator import SimulatedTenant

RAW_EVENT_CHECKSUM_SQL = """
select count(*), coalesce(md5(string_agg(t::text, '|' order by t.room_email, t.event_id)), '')
from (
    select room_email, event_id, ical_uid, series_master_id, event_type, start_at, end_at,
           start_timezone, end_timezone, is_all_day, created_at, last_modified_at,
           organizer_name, organizer_address, attendees, location, locations, recurrence,
           sensitivity, is_cancelled, show_as, online_meeting_provider, is_online_meeting
    from raw.room_events
) t
"""


def configure(
    monkeypatch, server, tenant: SimulatedTenant, database_url: str, folder: Path
) -> Path:
    """Point docs/configuration.md variables at the simulator and the test database."""
    rooms_file = folder / "rooms.csv"
    rooms_file.write_text(tenant.registry_csv(), encoding="utf-8")
    monkeypatch.setenv("ROOMCAL_GRAPH_BASE_URL", server.base_url)
    monkeypatch.setenv("ROOMCAL_GRAPH_TOKEN", "sim-token")
    monkeypatch.setenv("ROOMCAL_ROOMS_FILE", str(rooms_file))
    monkeypatch.setenv("ROOMCAL_DATABASE_URL", database_url)
    # Tests use fixed dates (DST changes, a given all-day date): partitions from 2024 on.
    monkeypatch.setenv("ROOMCAL_HISTORY_START", "2024-01-01")
    return rooms_file


def raw_checksum(database_url: str) -> tuple[int, str]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(RAW_EVENT_CHECKSUM_SQL).fetchone()


def local_window(timezone: str, start: date, end: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    return (
        datetime.combine(start, datetime.min.time(), zone).astimezone(UTC),
        datetime.combine(end, datetime.min.time(), zone).astimezone(UTC),
    )


def graph_instant(pair: dict) -> datetime:
    """Ground truth's own reading of a Graph dateTimeTimeZone (the simulator serves UTC)."""
    assert pair["timeZone"] == "UTC"
    return datetime.fromisoformat(pair["dateTime"][:26]).replace(tzinfo=UTC)


def event_interval(event: dict, timezone: str) -> tuple[datetime, datetime]:
    """The instants an event occupies on a room calendar in ``timezone``: an all-day event
    is a floating date range, at midnight in the room's zone (docs/metrics.md)."""
    if event.get("isAllDay"):
        zone = ZoneInfo(timezone)
        start, end = (date.fromisoformat(event[k]["dateTime"][:10]) for k in ("start", "end"))
        return (
            datetime.combine(start, time(), zone).astimezone(UTC),
            datetime.combine(end, time(), zone).astimezone(UTC),
        )
    return graph_instant(event["start"]), graph_instant(event["end"])


def overlaps(start: datetime, end: datetime, ws: datetime, we: datetime) -> bool:
    """calendarView's rule: the event overlaps [ws, we); a zero-length one when it starts inside."""
    if start == end:
        return ws <= start < we
    return start < we and end > ws


def expected_event_ids(tenant: SimulatedTenant, start: date, end: date) -> dict[str, set[str]]:
    """Per healthy room, the ids of ground-truth events that overlap the room's window (a
    window owns every event it overlaps, wherever it starts)."""
    out: dict[str, set[str]] = {}
    for room in tenant.rooms:
        if not room.email or room.failure or not room.in_registry:
            continue
        ws, we = local_window(room.timezone, start, end)
        out[room.email] = {
            e["id"]
            for e in tenant.calendar_view(room.email, ws, we)
            if overlaps(*event_interval(e, room.timezone), ws, we)
        }
    return out


def loaded_event_ids(database_url: str) -> dict[str, set[str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("select room_email, event_id from raw.room_events").fetchall()
    out: dict[str, set[str]] = {}
    for email, event_id in rows:
        out.setdefault(email, set()).add(event_id)
    return out


def env_snapshot() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("ROOMCAL_")}
