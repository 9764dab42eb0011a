"""One sync at a time (issue 12): a sync started while another runs does nothing, and the
schedule skips its tick while the previous sync is still in flight."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from dagster import DagsterRun, DagsterRunStatus, build_schedule_context, instance_for_test

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure
from tests.sync.test_delta_sync import (
    WIDE,
    healthy,
    in_window,
    stored,
    sync_in_progress,
    truth,
)

pytestmark = pytest.mark.integration


def test_a_second_sync_while_one_runs_touches_no_room(
    server_warehouse_url, roomcal_env, tmp_path, capsys
):
    tenant = SimulatedTenant(
        seed=61, today=date.today(), history_days=10, future_days=30, bookings_per_day=40
    )
    rooms = healthy(tenant, 6)
    emails = ",".join(r.email for r in rooms)
    # 3 s per Graph request: the first sync holds the sync lock for about 15 s of delta
    # pages, well beyond the few seconds the second needs to start and reach it, even on a
    # busy machine.
    with SimulatorServer(tenant, FaultConfig(latency_ms=3000)) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        first = sync_in_progress(server, emails, requests=3)
        assert first.poll() is None  # the first sync is reading rooms
        # The second sync talks to a Graph of its own (the same tenant), so that every
        # request it makes is counted apart from the first sync's.
        with SimulatorServer(tenant) as second_graph:
            roomcal_env.setenv("ROOMCAL_GRAPH_BASE_URL", second_graph.base_url)
            capsys.readouterr()
            assert main(["sync", "--rooms", emails]) == 0
            second_out = capsys.readouterr().out
            second_requests = [u for u in second_graph.stats.attempts if "/delta" in u.lower()]
        assert first.poll() is None, "the first sync ended before the second started"
        out, _ = first.communicate(timeout=300)
        assert first.returncode == 0
    assert "another roomcal sync is running: this one did nothing" in second_out
    second_run = second_out.split("run ")[-1].split(")")[0]
    with psycopg.connect(server_warehouse_url) as conn:
        results = conn.execute(
            "select run_id, count(*) from raw.room_sync_results group by 1"
        ).fetchall()
    # The second sync read no room (only the preflight's probe reached its Graph) and
    # recorded no result; the first synced every room.
    assert second_requests == []
    assert len(results) == 1 and results[0][0] != second_run and results[0][1] == len(rooms)
    assert "Rooms synced: 6 of 6" in out
    stored_rows = stored(server_warehouse_url, {r.email for r in rooms})
    assert in_window(stored_rows, rooms) == truth(tenant, rooms)
    assert stored_rows <= truth(tenant, rooms, WIDE)


def test_the_schedule_skips_while_a_sync_is_in_flight():
    from roomcal_pipeline.definitions import defs

    schedule = defs.resolve_schedule_def("delta_sync_every_10_minutes")
    with instance_for_test() as instance:
        context = build_schedule_context(
            instance=instance, repository_def=defs.get_repository_def()
        )
        assert len(schedule.evaluate_tick(context).run_requests) == 1  # nothing in flight
        for status in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED):
            run = instance.add_run(
                DagsterRun(job_name="delta_sync_job", run_id=f"run-{status.value}", status=status)
            )
            tick = schedule.evaluate_tick(context)
            assert tick.run_requests == [] and run.run_id in tick.skip_message
            instance.delete_run(run.run_id)
        done = DagsterRun(job_name="delta_sync_job", run_id="done", status=DagsterRunStatus.SUCCESS)
        instance.add_run(done)
        assert len(schedule.evaluate_tick(context).run_requests) == 1
