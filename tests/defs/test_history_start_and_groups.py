"""Daily partitions start at ROOMCAL_HISTORY_START (default: the first day of the month six
months back), read when the code location loads, never at import; dbt models sit in the
asset groups of their folders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dagster import AssetKey, build_schedule_context

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.config.settings import default_history_start
from roomcal_pipeline.definitions import defs, roomcal_location
from roomcal_pipeline.defs.resources import RoomcalResource

PARTITIONED = [
    AssetKey(["raw", "room_events"]),
    AssetKey(["raw", "room_sync_results"]),
    AssetKey(["marts", "room_booking_rate_daily"]),
    AssetKey(["marts", "fct_room_bookings"]),
]


def first_partitions(loaded) -> set[str]:
    graph = loaded.resolve_asset_graph()
    firsts = {graph.get(key).partitions_def.get_first_partition_key() for key in PARTITIONED}
    firsts.add(loaded.resolve_job_def("roomcal_daily").partitions_def.get_first_partition_key())
    return firsts


@pytest.mark.parametrize(
    ("today", "first"),
    [
        (date(2026, 12, 15), date(2026, 6, 1)),
        (date(2026, 3, 31), date(2025, 9, 1)),
        (date(2026, 6, 1), date(2025, 12, 1)),
        (date(2026, 7, 31), date(2026, 1, 1)),
    ],
)
def test_default_history_start(today, first):
    assert default_history_start(today) == first


def test_default_partitions_start_a_few_months_back(monkeypatch):
    monkeypatch.delenv("ROOMCAL_HISTORY_START", raising=False)
    expected = default_history_start().isoformat()
    assert first_partitions(defs) == {expected}
    assert first_partitions(roomcal_location()) == {expected}


def test_the_code_location_applies_roomcal_history_start(monkeypatch, tmp_path):
    start = date.today() - timedelta(days=45)
    monkeypatch.setenv("ROOMCAL_HISTORY_START", start.isoformat())
    loaded = roomcal_location()
    assert first_partitions(loaded) == {start.isoformat()}
    graph = loaded.resolve_asset_graph()
    events = graph.get(AssetKey(["raw", "room_events"]))
    assert events.backfill_policy is not None  # still one run per backfill range
    assert len(list(graph.asset_check_keys)) == len(
        list(defs.resolve_asset_graph().asset_check_keys)
    )
    # the nightly schedule runs the re-partitioned daily job (rooms in UTC: a date is
    # due an hour after it ended)
    registry = tmp_path / "rooms.csv"
    registry.write_text(
        "email,name,building,floor,capacity,timezone\nr@x.example,R,B,1,4,UTC\n",
        encoding="utf-8",
    )
    schedule = loaded.resolve_schedule_def("daily_partition_schedule")
    when = date.today() - timedelta(days=3)
    requests = schedule.evaluate_tick(
        build_schedule_context(
            scheduled_execution_time=datetime.combine(when, time(3), UTC),
            repository_def=loaded.get_repository_def(),
            resources={"roomcal": RoomcalResource(rooms_file=str(registry))},
        )
    ).run_requests
    assert [r.partition_key for r in requests] == [(when - timedelta(days=1)).isoformat()]


def test_a_malformed_history_start_does_not_stop_the_location_loading(monkeypatch):
    monkeypatch.setenv("ROOMCAL_HISTORY_START", "2026-13-01")
    assert first_partitions(roomcal_location()) == {default_history_start().isoformat()}


def test_roomcal_run_checks_dates_against_the_history_start(roomcal_env, capsys):
    start = date.today() - timedelta(days=20)
    roomcal_env.setenv("ROOMCAL_HISTORY_START", start.isoformat())
    day = timedelta(days=1)
    assert main(["run", "--start", str(start - day), "--end", str(start + day)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"roomcal: --start must be at least {start} (YYYY-MM-DD), the first daily partition; "
        f"got {start - day}"
    )
    roomcal_env.setenv("ROOMCAL_HISTORY_START", "2026-13-01")
    assert main(["run", "--start", str(start), "--end", str(start + day)]) == 2
    assert capsys.readouterr().err.strip() == (
        "roomcal: ROOMCAL_HISTORY_START: '2026-13-01' is not a valid date: month must be in 1..12"
    )
    roomcal_env.setenv("ROOMCAL_HISTORY_START", str(date.today() + timedelta(days=3)))
    assert main(["demo"]) == 2
    assert "ROOMCAL_HISTORY_START: " in capsys.readouterr().err


def test_dbt_models_are_in_the_groups_of_their_folders():
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.path[0])
    assert "default" not in groups
    assert groups["staging"] == {"staging"}
    assert groups["intermediate"] == {"intermediate"}
    assert groups["marts"] == {"marts"}
    assert graph.get(AssetKey(["marts", "room_sync_status"])).group_name == "marts"


def test_dbt_assets_do_not_run_the_source_tests():
    """The tests on dbt sources are not asset checks: run through dbt's indirect selection,
    dagster-dbt would log each as a warning about an AssetObservation."""
    from roomcal_pipeline.defs.assets.marts import dbt_unpartitioned_models

    assert "source:*" in dbt_unpartitioned_models.op.tags["dagster_dbt/exclude"]
