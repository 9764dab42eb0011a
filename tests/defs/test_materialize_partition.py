"""One daily partition materialized with Dagster's own API, resources configured in code."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from roomcal_pipeline.defs.assets.extraction import room_events
from roomcal_pipeline.defs.assets.registry import room_registry
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer

pytestmark = pytest.mark.integration


def test_materialize_one_partition(server_warehouse_url, roomcal_env, tmp_path):
    day = date.today() - timedelta(days=2)
    tenant = SimulatedTenant(seed=21, today=date.today())
    rooms_file = tmp_path / "rooms.csv"
    rooms_file.write_text(tenant.registry_csv())
    with SimulatorServer(tenant) as server:
        resource = RoomcalResource(
            database_url=server_warehouse_url,
            graph_base_url=server.base_url,
            graph_token="sim-token",
            rooms_file=str(rooms_file),
        )
        with DagsterInstance.ephemeral() as instance:
            result = materialize(
                [room_registry, room_events],
                partition_key=day.isoformat(),
                resources={"roomcal": resource},
                instance=instance,
            )
    assert result.success
    mats = {m.asset_key: m for m in result.get_asset_materialization_events()}
    events_meta = mats[AssetKey(["raw", "room_events"])].materialization.metadata
    assert mats[AssetKey(["raw", "room_events"])].partition == day.isoformat()
    with psycopg.connect(server_warehouse_url) as conn:
        loaded = conn.execute("select count(*) from raw.room_events").fetchone()[0]
        synced = conn.execute(
            "select count(*) from raw.room_sync_results where status = 'synced'"
        ).fetchone()[0]
    assert events_meta["events_loaded"].value == loaded
    assert events_meta["rooms_synced"].value == synced
    assert events_meta["rooms_not_synced"].value == 4
    assert events_meta["graph_requests"].value >= synced
