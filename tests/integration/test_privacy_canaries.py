"""docs/privacy.md end to end: events full of canary values in every sensitive and
non-allowlisted field go through the whole pipeline; no canary may be found in any
table, the Dagster event log or storage under DAGSTER_HOME, or any log line."""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
from dagster import DagsterInstance
from psycopg import sql

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.simulator import CANARY_PREFIX, SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure

pytestmark = pytest.mark.integration

TODAY = date.today()
START, END = TODAY - timedelta(days=10), TODAY


def tables_with_canaries(url: str) -> dict[str, int]:
    found = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema not in ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert ("raw", "room_events") in tables
        for schema, table in tables:
            query = sql.SQL("select count(*) from {}.{} t where t::text like %s").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            hits = conn.execute(query, (f"%{CANARY_PREFIX}%",)).fetchone()[0]
            if hits:
                found[f"{schema}.{table}"] = hits
    return found


def files_with_canaries(folder: Path) -> list[str]:
    needle = CANARY_PREFIX.encode()
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            hits.append(str(path))
    return hits


def test_no_canary_reaches_tables_event_log_or_logs(
    warehouse_url, roomcal_env, tmp_path, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    tenant = SimulatedTenant(seed=11, canaries=True, today=TODAY)
    room = next(r for r in tenant.rooms if r.email and not r.failure)
    ws_probe = tenant.calendar_view(room.email, *_utc_range())
    assert CANARY_PREFIX in orjson.dumps(ws_probe).decode()  # the canaries are really served

    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, warehouse_url, tmp_path)
        assert main(["run", "--start", START.isoformat(), "--end", END.isoformat()]) == 0

    with psycopg.connect(warehouse_url) as conn:
        loaded = conn.execute("select count(*) from raw.room_events").fetchone()[0]
        online = conn.execute(
            "select count(*) from raw.room_events where is_online_meeting"
        ).fetchone()[0]
    assert loaded > 100 and online > 0  # real data went through, join links reduced to a flag
    assert tables_with_canaries(warehouse_url) == {}

    home = Path(os.environ["DAGSTER_HOME"])
    with DagsterInstance.get() as instance:
        records = instance.get_run_records()
        assert records
        for record in records:
            logs = instance.all_logs(record.dagster_run.run_id)
            assert len(logs) > 10
            assert CANARY_PREFIX not in repr(logs)
    assert files_with_canaries(home) == []
    dbt_logs = list((Path(os.environ["ROOMCAL_DATA_DIR"]) / "logs").glob("dbt-*.log"))
    assert dbt_logs and all(p.stat().st_size > 0 for p in dbt_logs)
    assert files_with_canaries(Path(os.environ["ROOMCAL_DATA_DIR"])) == []

    captured = capfd.readouterr()
    assert "rooms done" in captured.out + captured.err  # the run's log lines were captured
    assert CANARY_PREFIX not in captured.out + captured.err
    assert CANARY_PREFIX not in caplog.text


def _utc_range():
    from datetime import UTC, datetime

    return (
        datetime.combine(START, datetime.min.time(), UTC),
        datetime.combine(END, datetime.min.time(), UTC),
    )


def test_no_canary_reaches_anything_through_delta_sync(
    server_warehouse_url, roomcal_env, tmp_path, capfd
):
    """Delta ignores `$select`: full events with every canary arrive, masters are kept."""
    tenant = SimulatedTenant(seed=13, canaries=True, today=TODAY, history_days=10, future_days=30)
    rooms = [r.email for r in tenant.rooms if r.email and not r.failure and r.in_registry][:4]
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        assert main(["sync", "--rooms", ",".join(rooms)]) == 0
        tenant.cancel_event(rooms[0], tenant.calendar_view(rooms[0], *_utc_range())[0]["id"])
        assert main(["sync", "--rooms", ",".join(rooms)]) == 0  # an incremental round too
    with psycopg.connect(server_warehouse_url) as conn:
        assert conn.execute("select count(*) from raw.room_events").fetchone()[0] > 100
        assert conn.execute("select count(*) from raw.series_masters").fetchone()[0] > 0
    assert tables_with_canaries(server_warehouse_url) == {}
    with DagsterInstance.get() as instance:
        for record in instance.get_run_records():
            assert CANARY_PREFIX not in repr(instance.all_logs(record.dagster_run.run_id))
    assert files_with_canaries(Path(os.environ["DAGSTER_HOME"])) == []
    assert files_with_canaries(Path(os.environ["ROOMCAL_DATA_DIR"])) == []
    captured = capfd.readouterr()
    assert CANARY_PREFIX not in captured.out + captured.err
