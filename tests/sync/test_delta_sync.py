"""Delta sync against the simulated tenant: after every sync, raw tables and marts equal
the tenant's truth, whatever was created, moved, cancelled or deleted in between."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from dagster import DagsterInstance

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.config.registry import parse_registry
from roomcal_pipeline.extraction.delta import (
    DEFAULT_DAYS_AHEAD,
    DEFAULT_DAYS_BACK,
    rolling_window,
    sync_rooms,
)
from roomcal_pipeline.extraction.load import local_window
from roomcal_pipeline.graph.client import GraphClient, RetryPolicy
from roomcal_pipeline.graph.credentials import StaticTokenCredential
from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer
from roomcal_pipeline.transform.project import dbt_project
from roomcal_pipeline.warehouse.rooms import replace_rooms
from roomcal_pipeline.warehouse.schema import migrate
from tests.integration.pipeline import configure, event_interval, graph_instant, overlaps

pytestmark = pytest.mark.integration

TODAY = date.today()
WINDOW = rolling_window(TODAY, DEFAULT_DAYS_BACK, DEFAULT_DAYS_AHEAD)
WIDE = (TODAY - timedelta(days=60), TODAY + timedelta(days=90))  # beyond any tenant here


def truth(tenant: SimulatedTenant, rooms, window=WINDOW) -> set[tuple]:
    """(room, id, start, end, cancelled, showAs) of every event overlapping the window."""
    out = set()
    for room in rooms:
        ws, we = local_window(room, *window)
        for e in tenant.calendar_view(room.email, ws, we):
            start, end = event_interval(e, room.timezone)
            if overlaps(start, end, ws, we):
                out.add((room.email, e["id"], start, end, e["isCancelled"], e["showAs"]))
    return out


def stored(url: str, emails) -> set[tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select room_email, event_id, start_at, end_at, is_cancelled, show_as"
            " from raw.room_events where room_email = any(%s)",
            (list(emails),),
        ).fetchall()
        dupes = conn.execute(
            "select count(*) - count(distinct (room_email, event_id)) from raw.room_events"
        ).fetchone()[0]
    assert dupes == 0
    return {(r[0], r[1], r[2].astimezone(UTC), r[3].astimezone(UTC), r[4], r[5]) for r in rows}


def healthy(tenant, count=None):
    rooms, _ = parse_registry(tenant.registry_csv())
    failing = {r.email for r in tenant.rooms if r.failure}
    picked = [r for r in rooms if r.email and r.email not in failing]
    return picked[:count] if count else picked


def prepare(url, tenant):
    rooms, _ = parse_registry(tenant.registry_csv())
    with psycopg.connect(url) as conn:
        migrate(conn)
        replace_rooms(conn, rooms)
    return rooms


def sync(server, rooms, url, run_id="sync", retry=None):
    async def run():
        client = GraphClient(
            server.base_url,
            StaticTokenCredential("sim-token"),
            page_size=50,
            retry=retry or RetryPolicy(backoff_base_seconds=0.02),
        )
        async with client:
            return await sync_rooms(rooms, client, url, run_id, *WINDOW, room_concurrency=8)

    return asyncio.run(run())


def mutate(tenant, room, step: int) -> None:
    """Create, move, cancel and delete, like people do between two syncs."""
    ws, we = local_window(room, TODAY, TODAY + timedelta(days=14))
    events = [e for e in tenant.calendar_view(room.email, ws, we) if not e["isCancelled"]]
    # One-off meetings of a few hours (the tenant also has all-day events and multi-day blocks).
    singles = [
        e
        for e in events
        if e["type"] == "singleInstance"
        and not e.get("isAllDay")
        and graph_instant(e["end"]) - graph_instant(e["start"]) <= timedelta(hours=4)
    ]
    occurrences = [e for e in events if e["type"] == "occurrence"]
    # Which events exist depends on today's date: never index past what the tenant has.
    cancelled = occurrences[step + 1] if len(occurrences) > step + 1 else singles[step + 4]
    start = datetime.combine(TODAY + timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        hours=10 + step
    )
    tenant.add_event(
        room.email,
        {
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
            "end": {
                "dateTime": (start + timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                "timeZone": "UTC",
            },
        },
    )
    moved = singles[step]
    new_start = graph_instant(moved["start"]) + timedelta(days=2, hours=1)
    tenant.move_event(room.email, moved["id"], new_start, new_start + timedelta(minutes=30))
    tenant.cancel_event(room.email, cancelled["id"])
    tenant.delete_event(room.email, singles[step + 2]["id"])


def test_syncs_converge_to_truth_after_each_change_raw_and_marts(
    server_warehouse_url, roomcal_env, tmp_path
):
    tenant = SimulatedTenant(seed=41, today=TODAY, history_days=20, future_days=40)
    rooms = healthy(tenant, 6)
    emails = {r.email for r in rooms}
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        assert main(["sync", "--rooms", ",".join(sorted(emails))]) == 0
        check_converged(server_warehouse_url, tenant, rooms)
        for step in range(2):
            for room in rooms[:3]:
                mutate(tenant, room, step)
            server.stats.reset()
            assert main(["sync", "--rooms", ",".join(sorted(emails))]) == 0
            check_converged(server_warehouse_url, tenant, rooms)
            # incremental: the unchanged rooms cost one request each
            per_room = server.stats.requests_per_mailbox
            assert all(per_room[r.email] == 1 for r in rooms[3:])
    # three dbt builds ran; none left its per-invocation folder behind under target/
    runs = DagsterInstance.get().get_runs()
    assert len(runs) == 3
    assert invocation_folders({run.run_id for run in runs}) == set()


def check_converged(url: str, tenant, rooms) -> None:
    """Raw rows and marts hold the truth of the rolling window; every raw row anywhere is
    the tenant's current event."""
    emails = {r.email for r in rooms}
    assert in_window(stored(url, emails), rooms) == truth(tenant, rooms)
    assert stored(url, emails) <= truth(tenant, rooms, WIDE)
    assert in_window(booked(url, emails), rooms) == bookings(tenant, rooms)


def invocation_folders(run_ids: set[str]) -> set:
    """dagster-dbt's per-invocation folders of these runs: `{op}-{run_id[:7]}-{uuid[:7]}`
    (only this test's, so that tests running beside it do not count)."""
    target = dbt_project.project_dir / dbt_project.target_path
    prefixes = {run_id[:7] for run_id in run_ids}
    return {p for p in target.iterdir() if p.is_dir() and p.name.split("-")[-2] in prefixes}


def booked(url: str, emails) -> set[tuple]:
    """(room, event id, start, end) of every booking in the marts."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select room_email, event_id, start_at, end_at from marts.fct_room_bookings"
            " where room_email = any(%s)",
            (sorted(emails),),
        ).fetchall()
    return {(r[0], r[1], r[2].astimezone(UTC), r[3].astimezone(UTC)) for r in rows}


def bookings(tenant, rooms, window=WINDOW) -> set[tuple]:
    """The tenant's truth as bookings: neither cancelled nor shown as free."""
    return {
        (room, eid, start, end)
        for room, eid, start, end, cancelled, show_as in truth(tenant, rooms, window)
        if not cancelled and show_as != "free"
    }


def in_window(rows: set[tuple], rooms, window=WINDOW) -> set[tuple]:
    """The rows (room, id, start, end, ...) that overlap each room's local window: a sync
    keeps each room's delta window longer than the rolling window (sync_window), and the
    rolling window is what it guarantees."""
    spans = {r.email: local_window(r, *window) for r in rooms}
    return {row for row in rows if row[0] in spans and overlaps(row[2], row[3], *spans[row[0]])}


def test_idle_sync_of_200_rooms_costs_200_requests(server_warehouse_url):
    tenant = SimulatedTenant(
        seed=43,
        today=TODAY,
        rooms_per_building=50,
        bookings_per_day=2,
        history_days=10,
        future_days=30,
    )
    prepare(server_warehouse_url, tenant)
    rooms = healthy(tenant)
    assert len(rooms) >= 200
    rooms = rooms[:200]
    with SimulatorServer(tenant, FaultConfig(latency_ms=5)) as server:
        first = sync(server, rooms, server_warehouse_url)
        assert all(r.status == "synced" for r in first)
        server.stats.reset()
        second = sync(server, rooms, server_warehouse_url, run_id="idle")
        stats = server.stats
    assert stats.total_requests == 200
    assert sum(r.stats.requests for r in second) == 200
    assert all(r.changes == 0 and not r.changed_dates for r in second)
    assert max(stats.max_concurrent_per_mailbox.values()) <= 4 and not stats.concurrency_violations


@pytest.mark.parametrize("error", ["SyncStateNotFound", "resyncRequired"])
def test_expired_delta_state_rereads_the_window_without_losing_deletions(
    server_warehouse_url, error
):
    tenant = SimulatedTenant(seed=47, today=TODAY, history_days=10, future_days=30)
    prepare(server_warehouse_url, tenant)
    rooms = healthy(tenant, 3)
    with SimulatorServer(tenant) as server:
        sync(server, rooms, server_warehouse_url)
        mutate(tenant, rooms[0], 0)
        server.faults.delta_token_error = error
        server.expire_delta_tokens()
        results = sync(server, rooms, server_warehouse_url, run_id="after-410")
        assert any(
            code == 410 for code in (int(k) for k in server.stats.status_counts if str(k).isdigit())
        )
    assert all(r.status == "synced" for r in results)
    assert stored(server_warehouse_url, {r.email for r in rooms}) == truth(tenant, rooms)


def test_faults_during_sync_end_equal_to_truth(server_warehouse_url):
    tenant = SimulatedTenant(seed=53, today=TODAY, history_days=10, future_days=30)
    prepare(server_warehouse_url, tenant)
    rooms = healthy(tenant, 4)
    faults = FaultConfig(
        seed=5,
        throttle_every_n=7,
        retry_after="mixed",
        retry_after_seconds=0.2,
        server_error_probability=0.15,
        reset_probability=0.05,
        truncate_probability=0.05,
        path_contains="calendarView",
    )
    with SimulatorServer(tenant, faults) as server:
        sync(server, rooms, server_warehouse_url)
        for room in rooms[:2]:
            mutate(tenant, room, 0)
        results = sync(server, rooms, server_warehouse_url, run_id="faulty")
        injected = server.stats.faults_injected
        assert server.stats.retry_after_violations() == []
    assert sum(injected.values()) >= 5
    assert all(r.status == "synced" for r in results)
    assert stored(server_warehouse_url, {r.email for r in rooms}) == truth(tenant, rooms)


def sync_in_progress(server, emails: str, requests: int, stdout=subprocess.PIPE):
    """`roomcal sync --rooms emails` in its own process, once Graph has seen `requests`
    calendar requests from it (or after two minutes)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "roomcal_pipeline.cli.main", "sync", "--rooms", emails],
        env=dict(os.environ),
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and sum(server.stats.requests_per_mailbox.values()) < requests:
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    return proc


def test_killed_sync_process_then_next_sync_converges(server_warehouse_url, roomcal_env, tmp_path):
    # Busy rooms: a window takes several 500-event pages, so the kill lands mid-round.
    tenant = SimulatedTenant(
        seed=59, today=TODAY, history_days=10, future_days=30, bookings_per_day=40
    )
    rooms = healthy(tenant, 8)
    emails = ",".join(r.email for r in rooms)
    with SimulatorServer(tenant, FaultConfig(latency_ms=150)) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        proc = sync_in_progress(server, emails, requests=10, stdout=subprocess.DEVNULL)
        assert proc.poll() is None  # still running: the kill interrupts a sync
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert sum(server.stats.requests_per_mailbox.values()) >= 10  # killed mid-sync
        server.faults.latency_ms = 0
        assert main(["sync", "--rooms", emails]) == 0
    stored_rows = stored(server_warehouse_url, {r.email for r in rooms})
    assert in_window(stored_rows, rooms) == truth(tenant, rooms)
    assert stored_rows <= truth(tenant, rooms, WIDE)


def test_schedules_are_wired_to_their_jobs():
    """Which job each schedule runs and when it is evaluated; what they request is in
    tests/defs/test_nightly_schedule.py and tests/sync/test_one_sync_at_a_time.py."""
    from roomcal_pipeline.definitions import defs

    daily = defs.resolve_schedule_def("daily_partition_schedule")
    assert daily.job_name == "roomcal_daily" and daily.cron_schedule == "20 * * * *"
    delta = defs.resolve_schedule_def("delta_sync_every_10_minutes")
    assert delta.cron_schedule == "*/10 * * * *" and delta.job_name == "delta_sync_job"


def test_database_restart_between_syncs(tmp_path):
    """The warehouse goes down and comes back between two syncs: the next one converges."""
    from roomcal_pipeline.warehouse.database import start_embedded, stop_embedded

    data_dir = tmp_path / "restarting"
    url = start_embedded(data_dir)
    try:
        tenant = SimulatedTenant(seed=67, today=TODAY, history_days=10, future_days=30)
        prepare(url, tenant)
        rooms = healthy(tenant, 3)
        with SimulatorServer(tenant) as server:
            assert all(r.status == "synced" for r in sync(server, rooms, url))
            assert stop_embedded(data_dir)
            mutate(tenant, rooms[0], 0)
            url = start_embedded(data_dir)  # same data folder, a new server process
            results = sync(server, rooms, url, run_id="after-restart")
        assert all(r.status == "synced" for r in results)
        assert results[0].changes > 0  # an incremental round from the stored deltaLink
        assert stored(url, {r.email for r in rooms}) == truth(tenant, rooms)
    finally:
        stop_embedded(data_dir)
