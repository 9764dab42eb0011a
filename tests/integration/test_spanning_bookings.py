"""Bookings shaped like real tenants': all-day events are floating dates in the room's zone,
and bookings that span days survive every load and sync path, whichever window their start
falls in (docs/metrics.md; the ownership rule in roomcal_pipeline/extraction/unit_of_work.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from roomcal_pipeline.cli.runner import run_assets, run_sync
from roomcal_pipeline.config.settings import Settings
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure

pytestmark = pytest.mark.integration

ALL_DAY = date(2026, 11, 16)  # a Monday
TENANT_TODAY = date(2026, 11, 25)
# The zones the issue names; a simulator room stands in for each, registered in that zone.
ZONES = ("America/New_York", "Europe/Amsterdam", "Asia/Kolkata", "Australia/Sydney")
STAND_IN = {
    "America/New_York": "America/New_York",
    "Europe/Amsterdam": "Europe/London",
    "Asia/Kolkata": "Asia/Kolkata",
    "Australia/Sydney": "Australia/Adelaide",
}
DAILY_MARTS = {
    "room_booking_rate_daily": ("booking_date",),
    "adhoc_vs_planned": ("booking_date",),
    "organizer_group_usage": ("organizer_group", "booking_date"),
}


def _registry(tenant: SimulatedTenant, zone_of: dict[str, str]) -> str:
    """The tenant's registry, with some rooms registered in another zone."""
    rows = list(csv.DictReader(io.StringIO(tenant.registry_csv())))
    for row in rows:
        if row["email"] in zone_of:
            row["timezone"] = zone_of[row["email"]]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


def _mart_rows(url: str, email: str) -> dict[str, dict[tuple, dict]]:
    out = {}
    with psycopg.connect(url, row_factory=dict_row) as conn:
        for name, key in DAILY_MARTS.items():
            rows = conn.execute(
                f"select * from marts.{name} where room_email = %s", (email,)
            ).fetchall()
            out[name] = {tuple(r[k] for k in key): r for r in rows}
    return out


def test_all_day_event_is_on_its_local_date_in_every_zone(
    server_warehouse_url, roomcal_env, tmp_path
):
    """An all-day event on 2026-11-16 counts on 2026-11-16 in New York, Amsterdam, Kolkata and
    Sydney rooms, fills that day's business window, and changes no other date."""
    tenant = SimulatedTenant(seed=23, today=TENANT_TODAY, history_days=30, future_days=10)
    healthy = [r for r in tenant.rooms if r.email and not r.failure and r.in_registry]
    rooms = {zone: next(r for r in healthy if r.timezone == STAND_IN[zone]) for zone in ZONES}
    zone_of = {room.email: zone for zone, room in rooms.items()}
    start, end = ALL_DAY - timedelta(days=3), ALL_DAY + timedelta(days=4)
    with SimulatorServer(tenant) as server:
        registry = configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        registry.write_text(_registry(tenant, zone_of), encoding="utf-8")
        data_dir = Settings.from_env().data_dir
        assert run_assets(start, end, data_dir).success
        before = {email: _mart_rows(server_warehouse_url, email) for email in zone_of}
        added = {}
        for room in rooms.values():
            sim_zone = room.timezone  # the mailbox's own zone decides what Graph stores
            added[room.email] = tenant.add_event(
                room.email,
                {
                    "start": {"dateTime": f"{ALL_DAY}T00:00:00", "timeZone": sim_zone},
                    "end": {
                        "dateTime": f"{ALL_DAY + timedelta(days=1)}T00:00:00",
                        "timeZone": sim_zone,
                    },
                    "isAllDay": True,
                    "showAs": "busy",
                    "isCancelled": False,
                },
            )
        assert run_assets(start, end, data_dir).success

    with psycopg.connect(server_warehouse_url, row_factory=dict_row) as conn:
        for email, zone in zone_of.items():
            raw = conn.execute(
                "select start_at, end_at, is_all_day from raw.room_events"
                " where room_email = %s and event_id = %s",
                (email, added[email]),
            ).fetchone()
            assert raw == {
                "start_at": _midnight(ALL_DAY, zone),
                "end_at": _midnight(ALL_DAY + timedelta(days=1), zone),
                "is_all_day": True,
            }, zone
            fct = conn.execute(
                "select booking_date, start_at, end_at from marts.fct_room_bookings"
                " where room_email = %s and event_id = %s",
                (email, added[email]),
            ).fetchone()
            assert fct == {
                "booking_date": ALL_DAY,
                "start_at": _midnight(ALL_DAY, zone),
                "end_at": _midnight(ALL_DAY + timedelta(days=1), zone),
            }, zone

    for email, zone in zone_of.items():
        after = _mart_rows(server_warehouse_url, email)
        rate = after["room_booking_rate_daily"][(ALL_DAY,)]
        assert rate["booked_minutes"] == rate["business_minutes"] > 0, zone
        assert float(rate["booking_rate"]) == 1.0, zone
        adhoc_before = before[email]["adhoc_vs_planned"].get((ALL_DAY,))
        adhoc_after = after["adhoc_vs_planned"][(ALL_DAY,)]
        counted = adhoc_after["ad_hoc_bookings"] + adhoc_after["planned_bookings"]
        counted_before = (
            adhoc_before["ad_hoc_bookings"] + adhoc_before["planned_bookings"]
            if adhoc_before
            else 0
        )
        assert counted == counted_before + 1, zone
        usage_before = sum(
            r["bookings"]
            for k, r in before[email]["organizer_group_usage"].items()
            if k[1] == ALL_DAY
        )
        usage_after = sum(
            r["bookings"] for k, r in after["organizer_group_usage"].items() if k[1] == ALL_DAY
        )
        assert usage_after == usage_before + 1, zone
        # No other date changed in any daily mart.
        for name, key in DAILY_MARTS.items():
            date_at = key.index("booking_date")
            changed = {
                k[date_at]
                for k in set(before[email][name]) | set(after[name])
                if before[email][name].get(k) != after[name].get(k)
            }
            assert changed <= {ALL_DAY}, (zone, name, changed)


def _add_busy(tenant: SimulatedTenant, email: str, start: datetime, end: datetime) -> str:
    """A busy, not cancelled event from start to end (UTC instants) on a room's calendar."""
    return tenant.add_event(
        email,
        {
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "showAs": "busy",
            "isCancelled": False,
        },
    )


def _block_events(tenant: SimulatedTenant, room, today: date) -> dict[str, tuple]:
    """A three-day block and a booking across midnight that start before the sync window
    of `today` ([today-7, today+28)) and end inside it; a 40-day block across all of it."""
    zone = ZoneInfo(room.timezone)

    def local(day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), zone).astimezone(UTC)

    shapes = {
        "three_day_block": (
            local(today - timedelta(days=9), 9),
            local(today - timedelta(days=6), 17),
        ),
        "across_midnight": (
            local(today - timedelta(days=8), 22),
            local(today - timedelta(days=7), 2),
        ),
        "forty_day_block": (
            local(today - timedelta(days=20), 8),
            local(today + timedelta(days=20), 18),
        ),
    }
    ids = {}
    for name, (start, end) in shapes.items():
        event_id = _add_busy(tenant, room.email, start, end)
        ids[name] = (event_id, start, end)
    return ids


def _held(url: str, email: str, table: str) -> dict[str, tuple[datetime, datetime]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"select event_id, start_at, end_at from {table} where room_email = %s", (email,)
        ).fetchall()
    return {r[0]: (r[1].astimezone(UTC), r[2].astimezone(UTC)) for r in rows}


def _daily_minutes(url: str, email: str) -> dict[date, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select booking_date, booked_minutes from marts.room_booking_rate_daily"
            " where room_email = %s",
            (email,),
        ).fetchall()
    return {r[0]: float(r[1]) for r in rows}


def test_bookings_that_span_days_survive_syncs_window_moves_and_partition_reruns(
    server_warehouse_url, roomcal_env, tmp_path: Path
):
    today = date.today() - timedelta(days=10)  # sync "today" moves forward up to today
    tenant = SimulatedTenant(seed=29, today=today, history_days=40, future_days=60)
    room = next(r for r in tenant.rooms if r.email and not r.failure and r.in_registry)
    ids = _block_events(tenant, room, today)
    want = {event_id: (start, end) for event_id, start, end in ids.values()}
    url = server_warehouse_url

    def check(step: str) -> None:
        raw = _held(url, room.email, "raw.room_events")
        fct = _held(url, room.email, "marts.fct_room_bookings")
        for name, (event_id, start, end) in ids.items():
            assert raw.get(event_id) == (start, end), (step, name, "raw")
            assert fct.get(event_id) == (start, end), (step, name, "fct_room_bookings")
        # The 40-day block fills every covered business day: its room stays in every mart.
        minutes = _daily_minutes(url, room.email)
        assert minutes, step
        zone = ZoneInfo(room.timezone)
        block_days = {
            d
            for d in minutes
            if ids["forty_day_block"][1].astimezone(zone).date()
            < d
            < ids["forty_day_block"][2].astimezone(zone).date()
        }
        assert block_days, step
        with psycopg.connect(url) as conn:
            business = dict(
                conn.execute(
                    "select booking_date, business_minutes from marts.room_booking_rate_daily"
                    " where room_email = %s",
                    (room.email,),
                ).fetchall()
            )
            status = conn.execute(
                "select status from marts.room_sync_status where room_email = %s", (room.email,)
            ).fetchone()[0]
        assert all(minutes[d] == float(business[d]) for d in block_days), step
        assert status == "synced", step
        # The three-day block fills its inner day once that day is loaded (a partition re-run).
        inner = ids["three_day_block"][1].astimezone(zone).date() + timedelta(days=1)
        if inner in minutes:
            assert minutes[inner] == float(business[inner]), step

    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, url, tmp_path)
        data_dir = Settings.from_env().data_dir
        assert run_assets(today - timedelta(days=1), today, data_dir, rooms=[room.email]).success
        for days in (0, 2, 8):  # the window's start passes both short blocks, then their ends
            assert run_sync(data_dir, [room.email], today + timedelta(days=days)).success
            check(f"sync today+{days}")
        for offset in (8, 6):  # re-run partitions the short blocks overlap (both; block end)
            day = today - timedelta(days=offset)
            assert run_assets(day, day + timedelta(days=1), data_dir, rooms=[room.email]).success
            check(f"partition {day}")
    with psycopg.connect(url) as conn:
        quarantined = conn.execute("select count(*) from raw.quarantined_events").fetchone()[0]
    assert quarantined == 0
    assert set(_held(url, room.email, "raw.room_events")) >= set(want)


def test_reloading_one_day_of_a_deleted_block_refreshes_all_its_days(
    server_warehouse_url, roomcal_env, tmp_path: Path
):
    """A three-day block deleted in Graph, then only its last day re-run (the nightly
    schedule reloads yesterday): the daily marts of its first two days drop it too."""
    today = date.today()
    tenant = SimulatedTenant(seed=31, today=today, history_days=30, future_days=5)
    room = next(r for r in tenant.rooms if r.email and not r.failure and r.in_registry)
    zone = ZoneInfo(room.timezone)
    first = today - timedelta(days=9)
    start = datetime.combine(first, time(10), zone).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=2), time(15), zone).astimezone(UTC)
    block = _add_busy(tenant, room.email, start, end)
    days = [first + timedelta(days=n) for n in range(3)]

    def counts() -> dict[date, int]:
        with psycopg.connect(server_warehouse_url) as conn:
            rows = conn.execute(
                "select booking_date, ad_hoc_bookings + planned_bookings from"
                " marts.adhoc_vs_planned where room_email = %s and booking_date = any(%s)",
                (room.email, days),
            ).fetchall()
        return dict(rows)

    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        data_dir = Settings.from_env().data_dir
        assert run_assets(days[0], days[-1] + timedelta(days=1), data_dir, [room.email]).success
        before = counts()
        assert set(before) == set(days)
        tenant.delete_event(room.email, block)
        assert run_assets(days[-1], days[-1] + timedelta(days=1), data_dir, [room.email]).success
    after = counts()
    assert block not in _held(server_warehouse_url, room.email, "raw.room_events")
    assert block not in _held(server_warehouse_url, room.email, "marts.fct_room_bookings")
    assert {d: after.get(d, 0) for d in days} == {d: before[d] - 1 for d in days}
