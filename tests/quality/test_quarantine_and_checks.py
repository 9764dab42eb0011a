"""Bad input never stops the run: malformed events land in quarantine with reasons, the
checks say so with useful metadata, the rest loads, and the marts hold only valid rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
import pytest
from dagster import AssetCheckKey, AssetKey

from roomcal_pipeline.cli.runner import run_assets
from roomcal_pipeline.config.settings import Settings
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure

pytestmark = pytest.mark.integration

TODAY = date.today()
START, END = TODAY - timedelta(days=15), TODAY + timedelta(days=1)
EVENTS = AssetKey(["raw", "room_events"])


def test_malformed_events_are_quarantined_and_reported(server_warehouse_url, roomcal_env, tmp_path):
    warehouse_url = server_warehouse_url  # the quarantine logic is not warehouse-specific
    tenant = SimulatedTenant(seed=31, today=TODAY, history_days=14, future_days=7)
    healthy = [r for r in tenant.rooms if r.email and not r.failure and r.in_registry]
    victim, gx_victim, bystander = healthy[0], healthy[4], healthy[8]
    injected = {
        kind: tenant.inject_malformed(victim.email, kind)
        for kind in ("end_before_start", "missing_start", "unknown_timezone", "duplicate_id")
    }
    noon = datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=12)
    bogus_id = tenant.add_event(
        gx_victim.email,
        {
            "start": {"dateTime": noon.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (noon + timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
            "showAs": "onTheMoon",
        },
    )
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, warehouse_url, tmp_path)
        result = run_assets(START, END, Settings.from_env().data_dir)
    assert result.success  # bad input never fails the run

    with psycopg.connect(warehouse_url) as conn:
        quarantined = conn.execute(
            "select room_email, event_id, reason from raw.quarantined_events"
        ).fetchall()
        status = dict(
            (r[0], r[1:])
            for r in conn.execute(
                "select room_email, status, reason, detail from marts.room_sync_status"
            )
        )
        fct_ids = {r[0] for r in conn.execute("select event_id from marts.fct_room_bookings")}
        raw_ids = {
            r[0]
            for r in conn.execute(
                "select event_id from raw.room_events where room_email = %s", (victim.email,)
            )
        }
        bystander_rows = conn.execute(
            "select count(*) from raw.room_events where room_email = %s", (bystander.email,)
        ).fetchone()[0]

    reasons = {(room, reason) for room, _, reason in quarantined}
    assert (victim.email, "end before start") in reasons
    assert (victim.email, "missing start") in reasons
    assert (victim.email, "start: unknown time zone") in reasons
    assert (victim.email, "duplicate id") in reasons
    assert (gx_victim.email, "expect_column_values_to_be_in_set(show_as)") in reasons
    quarantined_ids = {event_id for _, event_id, _ in quarantined}
    assert {injected["end_before_start"], injected["unknown_timezone"], bogus_id} <= quarantined_ids

    # The rest of the room loads; the other rooms are untouched by it.
    assert len(raw_ids) > 20 and bystander_rows > 20
    assert injected["end_before_start"] not in raw_ids and bogus_id not in fct_ids
    assert not ({injected["end_before_start"], injected["unknown_timezone"], bogus_id} & fct_ids)

    # Rooms with events set aside stay synced (their valid events are in the marts), with
    # the count and the failed checks in their detail.
    assert status[victim.email][:2] == ("synced", None)
    assert "end before start" in status[victim.email][2]
    assert status[gx_victim.email][:2] == ("synced", None)
    assert "show_as" in status[gx_victim.email][2]
    assert status[bystander.email] == ("synced", None, None)
    with psycopg.connect(warehouse_url) as conn:
        flagged = dict(
            conn.execute(
                "select room_email, events_quarantined from marts.room_sync_status"
            ).fetchall()
        )
        victim_days = conn.execute(
            "select count(*) from marts.room_booking_rate_daily where room_email = %s",
            (victim.email,),
        ).fetchone()[0]
    assert flagged[victim.email] >= 4 and flagged[gx_victim.email] >= 1
    assert flagged[bystander.email] == 0
    assert victim_days >= 10  # its valid days stay in the marts

    checks = {e.asset_check_key: e for e in result.get_asset_check_evaluations()}
    warn = checks[AssetCheckKey(EVENTS, "no_quarantined_events")]
    assert not warn.passed
    meta = warn.metadata
    assert meta["quarantined_events"].value >= 5
    assert meta["by_reason"].value["end before start"] >= 1
    assert {s["room_email"] for s in meta["sample_keys"].value} >= {victim.email, gx_victim.email}
    assert checks[AssetCheckKey(EVENTS, "events_valid")].passed  # what remains is clean
    rates = AssetCheckKey(AssetKey(["marts", "room_booking_rate_daily"]), "booking_rates_valid")
    present = AssetCheckKey(
        AssetKey(["marts", "room_sync_status"]), "every_registered_room_present"
    )
    assert checks[rates].passed and checks[present].passed
    assert checks[rates].metadata["expectations"].value == 4


def test_check_specs_guard_their_assets():
    from roomcal_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    specs = {key: graph.get_check_spec(key) for key in graph.asset_check_keys}
    valid = specs[AssetCheckKey(EVENTS, "events_valid")]
    assert valid.blocking
    assert not specs[AssetCheckKey(EVENTS, "no_quarantined_events")].blocking
    marts = {k.asset_key for k in specs if k.asset_key.path[0] == "marts"}
    assert AssetKey(["marts", "room_booking_rate_daily"]) in marts
    gx_marts = {
        k.name for k in specs if k.asset_key == AssetKey(["marts", "room_booking_rate_daily"])
    }
    assert "booking_rates_valid" in gx_marts
    assert (
        AssetCheckKey(AssetKey(["marts", "room_sync_status"]), "every_registered_room_present")
        in specs
    )
