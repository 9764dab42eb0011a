"""Delta windows that roll without re-reading (issue 12): `roomcal sync` on consecutive
days of an unchanged tenant costs one request per room, except on each room's own
restart day, when it reads its next window in full; the marts hold the truth of the
rolling window on every day.

The rule under test, as docs/configuration.md states it: a room keeps its delta window
for `restart_days` days and starts a new one on a day of its own, so within any
`restart_days` consecutive days each room re-reads its window exactly once, and not
every room on the same day. The test checks that rule from the simulator's log of
requests, not from roomcal's window arithmetic.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from urllib.parse import unquote

import psycopg
import pytest

from roomcal_pipeline.cli.runner import run_sync
from roomcal_pipeline.config.settings import Settings
from roomcal_pipeline.extraction.delta import DEFAULT_DAYS_AHEAD, DEFAULT_DAYS_BACK
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from roomcal_pipeline.warehouse.rooms import refresh_registry
from roomcal_pipeline.warehouse.schema import migrate
from tests.integration.pipeline import configure
from tests.sync.test_delta_sync import booked, bookings, healthy, in_window, stored, truth

pytestmark = pytest.mark.integration

TODAY = date.today()
RESTART_DAYS = 3
DAYS = 4  # syncs on TODAY, TODAY + 1, ..., TODAY + 3: one whole restart cycle after the first


def delta_requests(server: SimulatorServer) -> tuple[Counter, Counter]:
    """Per mailbox: every delta request, and the first pages of new delta rounds (a delta
    query with a start and end date and no token: a read of a window in full). The run's
    Graph preflight (one calendarView request per run, not per room) is not a delta
    request."""
    every, fresh = Counter(), Counter()
    for url, n in server.stats.attempts.items():
        path = unquote(url).lower()
        if "/calendarview/delta" not in path:
            continue
        mailbox = path.split("/users/", 1)[1].split("/", 1)[0]
        every[mailbox] += n
        if "startdatetime=" in path and "token=" not in path:
            fresh[mailbox] += n
    return every, fresh


def test_idle_syncs_cost_one_request_per_room_except_each_rooms_restart_day(
    server_warehouse_url, roomcal_env, tmp_path
):
    tenant = SimulatedTenant(seed=44, today=TODAY, history_days=20, future_days=70)
    rooms = healthy(tenant, 6)
    emails = sorted(r.email for r in rooms)
    read_in_full: dict[str, list[int]] = {e: [] for e in emails}
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        settings = Settings.from_env()
        data_dir = settings.data_dir
        with psycopg.connect(server_warehouse_url) as conn:  # what `roomcal sync` does first
            migrate(conn)
            refresh_registry(conn, settings)
        for day in range(DAYS):
            today = TODAY + timedelta(days=day)
            server.reset_stats()
            assert run_sync(data_dir, emails, today, restart_days=RESTART_DAYS).success
            every, fresh = delta_requests(server)
            for email in emails:
                if fresh[email]:
                    read_in_full[email].append(day)
                else:  # an unchanged room, its window kept: one delta request
                    assert every[email] == 1, (day, email, every[email])
            # The marts hold the truth of the rolling window of that day.
            window = (
                today - timedelta(days=DEFAULT_DAYS_BACK),
                today + timedelta(days=DEFAULT_DAYS_AHEAD),
            )
            marts = in_window(booked(server_warehouse_url, emails), rooms, window)
            assert marts == bookings(tenant, rooms, window)
            # Every raw row is the tenant's current event (none stale, none twice).
            wide = (TODAY - timedelta(days=20), TODAY + timedelta(days=70))
            assert stored(server_warehouse_url, emails) <= truth(tenant, rooms, wide)

    assert all(days[0] == 0 for days in read_in_full.values())  # the first sync reads all
    for email, days in read_in_full.items():
        later = days[1:]
        # Within any RESTART_DAYS consecutive days after the first, exactly one restart.
        assert len([d for d in later if d <= RESTART_DAYS]) == 1, (email, days)
        assert all(b - a == RESTART_DAYS for a, b in zip(later, later[1:], strict=False))
    per_day = Counter(d for days in read_in_full.values() for d in days[1:])
    assert max(per_day.values()) < len(emails)  # restarts are spread over the days
