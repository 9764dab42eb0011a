"""Each room is one real transaction: its rows and its delta state commit together or not at
all, a failing room never touches another's committed work, a broken warehouse or a
terminated run ends extraction promptly and leaves committed rows as they were."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import psycopg
import pytest

from roomcal_pipeline.extraction.delta import sync_rooms
from roomcal_pipeline.extraction.load import extract_rooms
from roomcal_pipeline.extraction.unit_of_work import WarehouseUnavailable
from roomcal_pipeline.graph.client import GraphClient, RetryPolicy
from roomcal_pipeline.graph.credentials import StaticTokenCredential
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure, loaded_event_ids
from tests.sync.test_delta_sync import (
    WIDE,
    WINDOW,
    healthy,
    in_window,
    prepare,
    stored,
    truth,
)

pytestmark = pytest.mark.integration

TODAY = date.today()


def _client(server) -> GraphClient:
    return GraphClient(
        server.base_url,
        StaticTokenCredential("sim-token"),
        page_size=50,
        retry=RetryPolicy(backoff_base_seconds=0.02),
    )


def _fail_inserts_for(url: str, email: str) -> None:
    """A trigger that makes every insert of one room's events fail inside its transaction."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            create or replace function raw.fail_room() returns trigger language plpgsql as $$
            begin
                if new.room_email = current_setting('roomcal_test.failing_room') then
                    raise exception 'injected failure';
                end if;
                return new;
            end $$;
            drop trigger if exists fail_room on raw.room_events;
            create trigger fail_room before insert on raw.room_events
                for each row execute function raw.fail_room();
            """
        )
        conn.execute(
            f"alter database \"{conn.info.dbname}\" set roomcal_test.failing_room = '{email}'"
        )


def _delta_links(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select room_email, delta_link from raw.delta_state").fetchall())


@pytest.mark.parametrize("path", ["delta", "backfill"])
def test_a_room_failing_after_others_on_the_same_worker_keeps_their_commits(
    server_warehouse_url, path
):
    url = server_warehouse_url
    tenant = SimulatedTenant(seed=71, today=TODAY, history_days=10, future_days=30)
    prepare(url, tenant)
    rooms = healthy(tenant, 3)
    victim = rooms[1]
    _fail_inserts_for(url, victim.email)
    seen_committed: dict[str, int] = {}

    def on_done(result, done, total):
        # Read from another connection: a room's rows are committed when it is done.
        with psycopg.connect(url) as other:
            seen_committed[result.room_email] = other.execute(
                "select count(*) from raw.room_events where room_email = %s",
                (result.room_email,),
            ).fetchone()[0]

    async def run():
        async with _client(server) as client:
            if path == "delta":
                return await sync_rooms(
                    rooms, client, url, "r1", *WINDOW, room_concurrency=1, on_room_done=on_done
                )
            start, end = WINDOW[0], WINDOW[0] + timedelta(days=14)
            return await extract_rooms(
                rooms, start, end, client, url, "r1", room_concurrency=1, on_room_done=on_done
            )

    with SimulatorServer(tenant) as server:
        results = {r.room_email: r for r in asyncio.run(run())}
    assert results[victim.email].status == "not_synced"
    assert results[victim.email].detail == "warehouse: RaiseException"
    for room in (rooms[0], rooms[2]):  # one before and one after the failure, same worker
        assert results[room.email].status == "synced"
        assert seen_committed[room.email] == results[room.email].events_loaded > 0
    with psycopg.connect(url) as conn:
        counts = dict(
            conn.execute(
                "select room_email, count(*) from raw.room_events group by room_email"
            ).fetchall()
        )
    assert victim.email not in counts
    assert counts[rooms[0].email] == results[rooms[0].email].events_loaded
    if path == "delta":
        links = _delta_links(url)
        assert set(links) == {rooms[0].email, rooms[2].email}  # no link without its data
        assert stored(url, {rooms[0].email, rooms[2].email}) == truth(tenant, [rooms[0], rooms[2]])


def test_killed_syncs_at_random_points_never_advance_a_link_without_its_data(
    server_warehouse_url, roomcal_env, tmp_path
):
    """SIGKILL `roomcal sync` at seeded random moments of a full round, after the tenant
    changed: a room whose deltaLink moved holds the tenant's new truth, a room whose link
    did not move holds exactly its previous rows; the next sync converges."""
    url = server_warehouse_url
    tenant = SimulatedTenant(seed=73, today=TODAY, history_days=10, future_days=35)
    prepare(url, tenant)
    rooms = healthy(tenant, 6)
    emails = ",".join(sorted(r.email for r in rooms))
    rng = random.Random(73)
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, url, tmp_path)
        server.faults.latency_ms = 40
        for kill in range(3):
            for room in rooms:  # something to sync in every room
                day = TODAY + timedelta(days=1 + kill)
                tenant.add_event(
                    room.email,
                    {
                        "start": {"dateTime": f"{day}T07:00:00", "timeZone": "UTC"},
                        "end": {"dateTime": f"{day}T07:30:00", "timeZone": "UTC"},
                    },
                )
            server.expire_delta_tokens()  # every room reads its whole window again
            links_before = _delta_links(url)
            rows_before = stored(url, {r.email for r in rooms})
            before = server.stats.total_requests
            proc = subprocess.Popen(
                [sys.executable, "-m", "roomcal_pipeline.cli.main", "sync", "--rooms", emails],
                env=dict(os.environ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wanted = rng.randrange(1, 3 * len(rooms))  # requests to let through first
            deadline = time.time() + 90
            while (
                time.time() < deadline
                and proc.poll() is None
                and server.stats.total_requests - before < wanted
            ):
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            links = _delta_links(url)
            moved = [r for r in rooms if links.get(r.email) != links_before.get(r.email)]
            kept = {r.email for r in rooms} - {r.email for r in moved}
            moved_rows = stored(url, {r.email for r in moved})
            assert in_window(moved_rows, moved) == truth(tenant, moved), kill
            assert moved_rows <= truth(tenant, moved, WIDE), kill
            assert stored(url, kept) == {row for row in rows_before if row[0] in kept}, kill
        server.faults.latency_ms = 0
        from roomcal_pipeline.cli.main import main

        assert main(["sync", "--rooms", emails]) == 0
    assert set(_delta_links(url)) == {r.email for r in rooms}
    assert in_window(stored(url, {r.email for r in rooms}), rooms) == truth(tenant, rooms)


def test_a_broken_warehouse_ends_extraction_promptly_and_keeps_committed_rooms(
    server_warehouse_url,
):
    url = server_warehouse_url
    tenant = SimulatedTenant(seed=79, today=TODAY, history_days=30, future_days=10)
    prepare(url, tenant)
    rooms = healthy(tenant, 8)
    start, end = TODAY - timedelta(days=21), TODAY

    async def extract(server):
        async with _client(server) as client:
            return await extract_rooms(rooms, start, end, client, url, "first", room_concurrency=2)

    with SimulatorServer(tenant) as server:
        first = asyncio.run(extract(server))
        assert all(r.status == "synced" for r in first)
        before = loaded_event_ids(url)
        added = {}
        for room in rooms:  # the tenant changes: a second load would change every room
            added[room.email] = tenant.add_event(
                room.email,
                {
                    "start": {
                        "dateTime": f"{TODAY - timedelta(days=2)}T10:00:00",
                        "timeZone": "UTC",
                    },
                    "end": {"dateTime": f"{TODAY - timedelta(days=2)}T11:00:00", "timeZone": "UTC"},
                },
            )
        server.faults.latency_ms = 150
        stop = threading.Event()
        baseline = server.stats.total_requests

        def kill_connections():
            # Once some rooms were read, terminate every roomcal connection to the database.
            while not stop.is_set() and server.stats.total_requests < baseline + 12:
                time.sleep(0.01)
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity"
                    " where datname = current_database() and pid <> pg_backend_pid()"
                )

        killer = threading.Thread(target=kill_connections)
        killer.start()
        began = time.monotonic()
        with pytest.raises(WarehouseUnavailable) as failure:
            asyncio.run(extract(server))
        elapsed = time.monotonic() - began
        stop.set()
        killer.join()
    assert elapsed < 10
    assert "password" not in str(failure.value) and url not in str(failure.value)
    after = loaded_event_ids(url)
    # Every room holds either its complete previous rows or its complete new rows.
    for room in rooms:
        new = before[room.email] | {added[room.email]}
        assert after[room.email] in (before[room.email], new), room.email


def test_terminating_a_running_extraction_ends_it_within_ten_seconds(
    server_warehouse_url, roomcal_env, tmp_path
):
    """Dagster terminates a run by interrupting its process (SIGINT); `roomcal run` must end
    within 10 s and leave the rows committed before as they were."""
    url = server_warehouse_url
    tenant = SimulatedTenant(seed=83, today=TODAY, history_days=60, future_days=10)
    start, end = TODAY - timedelta(days=56), TODAY
    prepare(url, tenant)
    rooms = healthy(tenant)
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, url, tmp_path)

        async def first_load():
            async with _client(server) as client:
                return await extract_rooms(
                    rooms, TODAY - timedelta(days=7), TODAY, client, url, "first"
                )

        assert all(r.status == "synced" for r in asyncio.run(first_load()))
        before = loaded_event_ids(url)
        server.faults.latency_ms = 300
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roomcal_pipeline.cli.main",
                "run",
                "--start",
                start.isoformat(),
                "--end",
                end.isoformat(),
            ],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        seen = server.stats.total_requests
        while time.time() < deadline and server.stats.total_requests - seen < 20:
            time.sleep(0.05)
        assert proc.poll() is None  # extraction is under way
        proc.send_signal(signal.SIGINT)
        began = time.monotonic()
        try:
            proc.wait(30)
        finally:
            proc.kill()
        elapsed = time.monotonic() - began
    assert elapsed < 10
    assert proc.returncode != 0
    after = loaded_event_ids(url)
    # Rooms committed before the interrupt hold a complete new window; the others are as before.
    for email, ids in before.items():
        assert ids <= after.get(email, set()), email
