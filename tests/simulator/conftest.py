"""Fixtures for the simulator tests: one small tenant served over real HTTP per module."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer

TODAY = date(2026, 11, 2)
WINDOW = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC))
ROOM = "lon-room-001@contoso.example"


def iso(dt: datetime) -> str:
    """Query-string form of a UTC datetime."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def sim_tenant() -> SimulatedTenant:
    return SimulatedTenant(seed=7, today=TODAY, history_days=60, future_days=20)


@pytest.fixture(scope="module")
def sim_server(sim_tenant):
    with SimulatorServer(sim_tenant) as server:
        yield server


@pytest.fixture
def sim(sim_server):
    """The shared server with faults and counters cleared for each test."""
    sim_server.faults = FaultConfig()
    sim_server.reset_stats()
    yield sim_server
    sim_server.faults = FaultConfig()


@pytest.fixture
def graph(sim):
    with httpx.Client(headers={"Authorization": "Bearer sim-token"}, timeout=10) as client:
        yield client


def view_url(server: SimulatorServer, mailbox: str = ROOM, window=WINDOW, extra: str = "") -> str:
    start, end = window
    return (
        f"{server.base_url}/users/{mailbox}/calendarView"
        f"?startDateTime={iso(start)}&endDateTime={iso(end)}{extra}"
    )


def collect(client: httpx.Client, url: str, headers: dict | None = None) -> tuple[list[dict], int]:
    """Follow @odata.nextLink to the end; returns the events and the number of pages."""
    events, pages = [], 0
    while url:
        resp = client.get(url, headers=headers or {})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        events += body["value"]
        pages += 1
        url = body.get("@odata.nextLink")
    return events, pages
