"""The real pipeline path: simulated tenant over HTTP, msgraph-sdk, allowlist, PostgreSQL,
through Dagster, on the PostgreSQL server (test_marts and the privacy canaries run the same
path on the embedded PostgreSQL too)."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.conftest import clean_roomcal_env
from tests.integration.pipeline import (
    configure,
    expected_event_ids,
    loaded_event_ids,
    raw_checksum,
)

pytestmark = pytest.mark.integration

TODAY = date.today()
START, END = TODAY - timedelta(weeks=3), TODAY

EXPECTED_REASONS = {
    "mailbox_not_found": "mailbox_not_found",
    "mailbox_not_enabled": "mailbox_not_enabled",
    "access_denied": "access_denied",
}


@pytest.fixture(scope="module")
def three_weeks_twice(module_server_warehouse_url, tmp_path_factory):
    """`roomcal run` for three weeks, twice, recording the raw tables after each run."""
    url = module_server_warehouse_url
    folder = tmp_path_factory.mktemp("run")
    tenant = SimulatedTenant(seed=7, today=TODAY)
    with pytest.MonkeyPatch.context() as mp, SimulatorServer(tenant) as server:
        clean_roomcal_env(mp, folder)
        configure(mp, server, tenant, url, folder)
        args = ["run", "--start", START.isoformat(), "--end", END.isoformat()]
        assert main(args) == 0
        first = raw_checksum(url)
        assert main(args) == 0
        second = raw_checksum(url)
    return tenant, url, first, second


def test_rerun_leaves_identical_raw_tables(three_weeks_twice):
    _, _, first, second = three_weeks_twice
    assert first[0] > 500  # three weeks of a dozen busy rooms
    assert first == second


def test_raw_events_equal_ground_truth(three_weeks_twice):
    tenant, url, _, _ = three_weeks_twice
    assert loaded_event_ids(url) == expected_event_ids(tenant, START, END)


def test_each_failing_room_has_its_reason_and_healthy_rooms_sync(three_weeks_twice):
    tenant, url, _, _ = three_weeks_twice
    with psycopg.connect(url) as conn:
        latest_run = conn.execute(
            "select run_id from raw.room_sync_results order by finished_at desc limit 1"
        ).fetchone()[0]
        rows = conn.execute(
            "select room_key, room_email, status, reason, detail, events_loaded"
            " from raw.room_sync_results where run_id = %s",
            (latest_run,),
        ).fetchall()
    by_key = {r[0]: r for r in rows}
    registered = [r for r in tenant.rooms if r.in_registry]
    assert len(by_key) == len(registered)
    expected = expected_event_ids(tenant, START, END)
    for room in registered:
        if not room.email:
            row = by_key[f"noemail:{room.name.lower()}"]
            assert (row[2], row[3]) == ("not_synced", "no_email")
        elif room.failure:
            row = by_key[room.email]
            assert (row[2], row[3]) == ("not_synced", EXPECTED_REASONS[room.failure])
            assert row[4] and "HTTP" in row[4]  # Graph's code and message in detail
        else:
            row = by_key[room.email]
            assert (row[2], row[3]) == ("synced", None)
            assert row[5] == len(expected[room.email])
    assert {r.failure for r in registered if r.failure} == set(EXPECTED_REASONS)


def test_one_room_rerun_touches_only_that_room(three_weeks_twice, tmp_path):
    tenant, url, first, _ = three_weeks_twice
    healthy = next(r for r in tenant.rooms if r.email and not r.failure and r.in_registry)
    with psycopg.connect(url) as conn:
        before = conn.execute(
            "select room_key, max(finished_at) from raw.room_sync_results group by room_key"
        ).fetchall()
    with pytest.MonkeyPatch.context() as mp, SimulatorServer(tenant) as server:
        clean_roomcal_env(mp, tmp_path)
        configure(mp, server, tenant, url, tmp_path)
        args = [
            "run",
            "--start",
            START.isoformat(),
            "--end",
            END.isoformat(),
            "--rooms",
            healthy.email,
        ]
        assert main(args) == 0
        assert set(server.stats.requests_per_mailbox) == {healthy.email}
    with psycopg.connect(url) as conn:
        after = dict(
            conn.execute(
                "select room_key, max(finished_at) from raw.room_sync_results group by room_key"
            ).fetchall()
        )
    changed = {key for key, finished in before if after[key] != finished}
    assert changed == {healthy.email}
    assert raw_checksum(url) == first


def test_status_mart_and_command_show_every_registered_room(three_weeks_twice, capsys):
    tenant, url, _, _ = three_weeks_twice
    with psycopg.connect(url) as conn:
        mart = {
            name: (status, reason)
            for name, status, reason in conn.execute(
                "select room_name, status, reason from marts.room_sync_status"
            )
        }
    registered = [r for r in tenant.rooms if r.in_registry]
    expected = {
        r.name: ("not_synced", "no_email")
        if not r.email
        else ("not_synced", EXPECTED_REASONS[r.failure])
        if r.failure
        else ("synced", None)
        for r in registered
    }
    assert mart == expected

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROOMCAL_DATABASE_URL", url)
        assert main(["status"]) == 0
    out = capsys.readouterr().out
    for room in registered:
        line = next(line for line in out.splitlines() if room.name in line)
        if room.failure == "access_denied":
            assert "access denied by policy" in line and "application access policy" in line
        elif not room.email:
            assert "add the room's mailbox email to the registry" in line
        elif not room.failure:
            assert " synced " in line
    assert f"{len(expected) - 4} of {len(expected)} registered rooms synced." in out


def test_discovery_reports_unregistered_and_unknown_rooms(three_weeks_twice, capsys):
    tenant, url, _, _ = three_weeks_twice
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROOMCAL_DATABASE_URL", url)
        assert main(["status"]) == 0
    out = capsys.readouterr().out
    discovery = out[out.index("Room discovery") :]
    missing = discovery[discovery.index("not in the registry") : discovery.index("Registered but")]
    unknown = discovery[discovery.index("Registered but") :]
    for room in tenant.rooms:
        if room.email and room.in_places and not room.in_registry:
            assert room.email in missing
        if room.email and room.in_registry and not room.in_places:
            assert room.email in unknown
        if room.email and room.in_registry and room.in_places:
            assert room.email not in discovery
    assert f"{sum(1 for r in tenant.rooms if r.email and r.in_places)} rooms in the tenant" in out


def test_rerunning_a_fixed_room_flips_it_to_synced_alone(three_weeks_twice, tmp_path):
    tenant, url, _, _ = three_weeks_twice
    blocked = next(r for r in tenant.rooms if r.failure == "access_denied")

    def status_rows():
        with psycopg.connect(url) as conn:
            return {
                r[0]: r[1:]
                for r in conn.execute(
                    "select room_name, status, reason, latest_run_id from marts.room_sync_status"
                )
            }

    before = status_rows()
    assert before[blocked.name][:2] == ("not_synced", "access_denied")
    tenant.set_room_failure(blocked.email, None)  # the admin fixed the access policy
    try:
        with pytest.MonkeyPatch.context() as mp, SimulatorServer(tenant) as server:
            clean_roomcal_env(mp, tmp_path)
            configure(mp, server, tenant, url, tmp_path)
            args = ["run", "--start", START.isoformat(), "--end", END.isoformat()]
            assert main([*args, "--rooms", blocked.email]) == 0
        after = status_rows()
    finally:
        tenant.set_room_failure(blocked.email, "access_denied")
    assert after[blocked.name][:2] == ("synced", None)
    others = {name: row for name, row in after.items() if name != blocked.name}
    assert others == {name: row for name, row in before.items() if name != blocked.name}
    with psycopg.connect(url) as conn:
        loaded = conn.execute(
            "select count(*) from raw.room_events where room_email = %s", (blocked.email,)
        ).fetchone()[0]
    assert loaded > 50
