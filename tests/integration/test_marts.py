"""The marts against an independent computation (tests/integration/reference_metrics.py) from
the simulated tenant's ground truth: four weeks, rooms in four time zones (one with a :30
offset, two with DST changes), on both the PostgreSQL server and the embedded one."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import dict_row

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.conftest import clean_roomcal_env
from tests.integration.pipeline import configure, event_interval, local_window, overlaps
from tests.integration.reference_metrics import MART_NAMES, NOT_FOUND, compute_marts

pytestmark = pytest.mark.integration

# Four weeks ending on a fixed Monday that spans the 2026 European and US DST changes
# (29 March in London, 8 March in New York) and Adelaide's (5 April).
TODAY = date(2026, 4, 20)
START, END = TODAY - timedelta(weeks=4), TODAY

KEYS = {
    "fct_room_bookings": ("room_email", "event_id"),
    "room_booking_rate_daily": ("room_email", "booking_date"),
    "organizer_group_usage": ("organizer_group", "room_email", "booking_date"),
    "recurrence_summary": ("room_email", "week_start"),
    "adhoc_vs_planned": ("room_email", "booking_date"),
    "room_popularity_weekly": ("room_email", "week_start"),
    "dim_rooms": ("room_name",),
    "room_sync_status": ("room_name",),
}
# Columns whose value depends on when the run happened, not on the data.
RUN_TIME_COLUMNS = {"last_synced_at"}
FAILURE_REASONS = {
    "mailbox_not_found": "mailbox_not_found",
    "mailbox_not_enabled": "mailbox_not_enabled",
    "access_denied": "access_denied",
}


def read_marts(url: str) -> dict[str, list[dict]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {name: conn.execute(f"select * from marts.{name}").fetchall() for name in MART_NAMES}


def marts_fingerprint(url: str) -> dict[str, list[tuple]]:
    """Every data mart's rows; room_sync_status is left out on purpose: it describes the
    latest run (its run id, time, window and Graph's message), so a re-run changes it."""
    out = {}
    for name, rows in read_marts(url).items():
        if name == "room_sync_status":
            continue
        out[name] = sorted(
            tuple(sorted((k, repr(v)) for k, v in row.items() if k not in RUN_TIME_COLUMNS))
            for row in rows
        )
    return out


def expected_marts(tenant: SimulatedTenant, url: str) -> dict[str, list[dict]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rooms = conn.execute("select * from raw.rooms").fetchall()
    events_by_room, directory = {}, {}
    for room in rooms:
        sim_room = next(
            (r for r in tenant.rooms if r.email and r.email == room["room_email"]), None
        )
        if sim_room is None or sim_room.failure:
            continue
        ws, we = local_window(room["timezone"], START, END)
        # A window owns every event that overlaps it (documented ownership rule).
        events = [
            e
            for e in tenant.calendar_view(sim_room.email, ws, we)
            if overlaps(*event_interval(e, room["timezone"]), ws, we)
        ]
        events_by_room[sim_room.email] = events
        for event in events:
            address = ((event.get("organizer") or {}).get("emailAddress") or {}).get("address")
            if address and address.lower() not in directory:
                try:
                    directory[address.lower()] = tenant.department(address)
                except KeyError:
                    directory[address.lower()] = NOT_FOUND
    failures = {r.email: FAILURE_REASONS[r.failure] for r in tenant.rooms if r.email and r.failure}
    return compute_marts(rooms, events_by_room, directory, START, END, 30, failures=failures)


def close(name: str, column: str, got, want) -> bool:
    if isinstance(got, Decimal):
        got = float(got)
    if isinstance(want, float) or isinstance(got, float):
        if got is None or want is None:
            return got is want
        tolerance = 0.5 if "minutes" in column else 1e-3
        return abs(float(got) - float(want)) <= tolerance
    if isinstance(got, datetime) and isinstance(want, datetime):
        return got == want
    return got == want


@pytest.fixture(scope="module")
def four_weeks(module_warehouse_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("marts")
    tenant = SimulatedTenant(seed=17, today=TODAY, history_days=60, future_days=14)
    with pytest.MonkeyPatch.context() as mp, SimulatorServer(tenant) as server:
        clean_roomcal_env(mp, folder)
        configure(mp, server, tenant, module_warehouse_url, folder)
        assert main(["run", "--start", START.isoformat(), "--end", END.isoformat()]) == 0
        first = marts_fingerprint(module_warehouse_url)
        one_day = (START + timedelta(days=9)).isoformat()
        next_day = (START + timedelta(days=10)).isoformat()
        assert main(["run", "--start", one_day, "--end", next_day]) == 0
        after_partition = marts_fingerprint(module_warehouse_url)
        assert main(["run", "--start", START.isoformat(), "--end", END.isoformat()]) == 0
        after_range = marts_fingerprint(module_warehouse_url)
    return tenant, module_warehouse_url, first, after_partition, after_range


def test_every_mart_row_agrees_with_the_independent_computation(four_weeks):
    tenant, url, *_ = four_weeks
    got_marts, want_marts = read_marts(url), expected_marts(tenant, url)
    for name in MART_NAMES:
        got_rows, want_rows = got_marts[name], want_marts[name]
        assert got_rows, f"{name} is empty"
        key = KEYS[name]
        got = {tuple(r[k] for k in key): r for r in got_rows}
        want = {tuple(r[k] for k in key): r for r in want_rows}
        assert len(got) == len(got_rows), f"{name}: duplicate keys"
        assert set(got) == set(want), (
            f"{name}: rows differ: {sorted(set(got) ^ set(want), key=str)[:5]}"
        )
        for k, want_row in want.items():
            for column, value in want_row.items():
                if column in RUN_TIME_COLUMNS or column not in got[k]:
                    continue
                assert close(name, column, got[k][column], value), (
                    f"{name}{k}.{column}: got {got[k][column]!r}, want {value!r}"
                )


def test_marts_cover_the_hard_cases(four_weeks):
    """The comparison above means something: four zones, both booking types, every group kind."""
    _, url, *_ = four_weeks
    with psycopg.connect(url) as conn:
        zones = {r[0] for r in conn.execute("select distinct timezone from marts.dim_rooms")}
        types = {
            r[0] for r in conn.execute("select distinct booking_type from marts.fct_room_bookings")
        }
        groups = {
            r[0]
            for r in conn.execute(
                "select distinct organizer_group from marts.organizer_group_usage"
            )
        }
    assert {"Asia/Kolkata", "Europe/London", "America/New_York", "Australia/Adelaide"} <= zones
    assert types == {"ad_hoc", "planned"}
    assert "external" in groups and "unassigned" in groups


def test_rerunning_a_partition_or_the_range_leaves_marts_unchanged(four_weeks):
    _, _, first, after_partition, after_range = four_weeks
    assert sum(len(v) for v in first.values()) > 1000
    assert after_partition == first
    assert after_range == first
