"""Graph's limits and failures against the simulated tenant, on the real client path."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import psycopg
import pytest

from roomcal_pipeline.config.registry import parse_registry
from roomcal_pipeline.extraction.load import CHUNK_DAYS, extract_rooms, local_window
from roomcal_pipeline.graph.client import GraphClient, RetryPolicy
from roomcal_pipeline.graph.credentials import StaticTokenCredential
from roomcal_pipeline.graph.parse import format_graph_datetime
from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer
from roomcal_pipeline.warehouse.schema import migrate
from tests.integration.pipeline import raw_checksum

pytestmark = pytest.mark.integration

TODAY = date.today()


def healthy_rooms(tenant: SimulatedTenant, count: int):
    """Healthy registered rooms, each in a different time zone."""
    rooms, issues = parse_registry(tenant.registry_csv())
    assert not issues
    failing = {r.email for r in tenant.rooms if r.failure}
    picked, zones = [], set()
    for room in rooms:
        if room.email and room.email not in failing and room.timezone not in zones:
            picked.append(room)
            zones.add(room.timezone)
    assert len(picked) >= count
    return picked[:count]


def extract(server, rooms, url, start, end, retry=None, page_size=500):
    async def run():
        client = GraphClient(
            server.base_url,
            StaticTokenCredential("sim-token"),
            page_size=page_size,
            retry=retry or RetryPolicy(backoff_base_seconds=0.05),
        )
        async with client:
            return await extract_rooms(
                rooms, start, end, client, url, "test-run", room_concurrency=4
            )

    return asyncio.run(run())


def prepared(url: str) -> str:
    with psycopg.connect(url) as conn:
        migrate(conn)
    return url


def test_at_most_four_requests_per_mailbox_and_every_retry_after_waited_out(server_warehouse_url):
    url = prepared(server_warehouse_url)
    tenant = SimulatedTenant(seed=3, today=TODAY)
    rooms = healthy_rooms(tenant, 3)
    faults = FaultConfig(
        latency_ms=60,
        throttle_every_n=4,
        retry_after="mixed",
        retry_after_seconds=1.0,
        throttle_code="mixed",
        path_contains="calendarView",
    )
    # Eight weeks = eight chunks per room, all wanting to run at once, pages of 50.
    with SimulatorServer(tenant, faults) as server:
        results = extract(server, rooms, url, TODAY - timedelta(weeks=8), TODAY, page_size=50)
        stats = server.stats
    assert [r.status for r in results] == ["synced"] * 3
    assert max(stats.max_concurrent_per_mailbox.values()) == 4  # parallel, up to the limit
    assert stats.concurrency_violations == []
    assert len(stats.throttle_log) >= 5
    assert all(r.next_arrival is not None for r in stats.throttle_log)  # every 429 retried
    assert stats.retry_after_violations() == []
    assert sum(r.stats.throttled for r in results) == len(stats.throttle_log)
    assert sum(r.stats.throttle_wait_seconds for r in results) >= len(stats.throttle_log) * 0.5


def test_failure_mid_room_keeps_previous_rows_and_other_rooms_load(server_warehouse_url):
    url = prepared(server_warehouse_url)
    tenant = SimulatedTenant(seed=5, today=TODAY)
    rooms = healthy_rooms(tenant, 3)
    start, end = TODAY - timedelta(weeks=2), TODAY
    with SimulatorServer(tenant) as server:
        first = extract(server, rooms, url, start, end, page_size=20)
    assert all(r.status == "synced" for r in first)
    before = raw_checksum(url)
    victim = rooms[1].email
    victim_start, _ = local_window(rooms[1], start, end)
    second_chunk = format_graph_datetime(victim_start + timedelta(days=CHUNK_DAYS))

    # The victim's second chunk comes back truncated on every retry, while its first
    # chunk's rows are already in the COPY: the whole room must roll back.
    faults = FaultConfig(truncate_probability=1.0, path_contains=second_chunk)
    with SimulatorServer(tenant, faults) as server:
        second = extract(
            server,
            rooms,
            url,
            start,
            end,
            page_size=20,
            retry=RetryPolicy(max_attempts=3, backoff_base_seconds=0.01),
        )
        assert server.stats.faults_injected  # the fault really fired
    by_email = {r.room_email: r for r in second}
    assert by_email[victim].status == "not_synced" and by_email[victim].reason == "error"
    assert by_email[victim].stats.retries >= 2
    assert all(r.status == "synced" for e, r in by_email.items() if e != victim)
    assert raw_checksum(url) == before  # the victim's rows are intact, nothing duplicated


def test_transient_5xx_and_resets_are_retried_to_the_same_result(server_warehouse_url):
    url = prepared(server_warehouse_url)
    tenant = SimulatedTenant(seed=9, today=TODAY)
    rooms = healthy_rooms(tenant, 2)
    start, end = TODAY - timedelta(weeks=1), TODAY
    with SimulatorServer(tenant) as server:
        extract(server, rooms, url, start, end, page_size=5)
    clean = raw_checksum(url)
    with psycopg.connect(url) as conn:
        conn.execute("truncate raw.room_events")
    faults = FaultConfig(
        seed=1,
        server_error_probability=0.25,
        reset_probability=0.1,
        truncate_probability=0.1,
        path_contains="calendarView",
    )
    with SimulatorServer(tenant, faults) as server:
        results = extract(server, rooms, url, start, end, page_size=5)
        injected = server.stats.faults_injected
        assert injected["truncate"] and injected["reset"]
        assert sum(injected[str(code)] for code in (500, 502, 503, 504))
    assert all(r.status == "synced" for r in results)
    assert raw_checksum(url) == clean


def test_places_paging_with_skip_lists_every_room():
    tenant = SimulatedTenant(seed=3, today=TODAY)
    expected = {r.email for r in tenant.rooms if r.email and r.in_places}

    async def run(server):
        async with GraphClient(server.base_url, StaticTokenCredential("sim-token")) as client:
            rooms = [room async for room in client.list_rooms(page_size=4)]
            return rooms, client.stats["places"].requests

    with SimulatorServer(tenant) as server:
        rooms, requests = asyncio.run(run(server))
    assert len(rooms) == len({r["email"] for r in rooms})  # no room twice across pages
    assert {r["email"] for r in rooms} == expected
    assert requests == len(expected) // 4 + 1  # $top pages until a short one
