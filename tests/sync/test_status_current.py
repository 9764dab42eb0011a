"""`roomcal status` is current after every sync: a `roomcal sync` that found no change still
rebuilds marts.room_sync_status (and dim_rooms), so the status shows that sync's time."""

from __future__ import annotations

import psycopg
import pytest

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure
from tests.sync.test_delta_sync import TODAY, healthy

pytestmark = pytest.mark.integration


def latest_results(url: str, emails: list[str]) -> tuple[str, dict]:
    """The run id of the latest sync and each room's finished_at in it."""
    with psycopg.connect(url) as conn:
        run_id = conn.execute(
            "select run_id from raw.room_sync_results group by run_id"
            " order by max(finished_at) desc limit 1"
        ).fetchone()[0]
        finished = dict(
            conn.execute(
                "select room_email, finished_at from raw.room_sync_results"
                " where run_id = %s and room_email = any(%s)",
                (run_id, emails),
            ).fetchall()
        )
    return run_id, finished


def status(url: str, emails: list[str]) -> dict:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select room_email, status, latest_run_id, last_synced_at, latest_attempt_at"
            " from marts.room_sync_status where room_email = any(%s)",
            (emails,),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_sync_without_changes_refreshes_room_sync_status(
    server_warehouse_url, roomcal_env, tmp_path, capfd
):
    tenant = SimulatedTenant(seed=71, today=TODAY, history_days=10, future_days=30)
    emails = sorted(r.email for r in healthy(tenant, 3))
    selection = ["--rooms", ",".join(emails)]
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        assert main(["sync", *selection]) == 0
        first_run, first_finished = latest_results(server_warehouse_url, emails)
        assert {e: s[1] for e, s in status(server_warehouse_url, emails).items()} == dict.fromkeys(
            emails, first_run
        )
        capfd.readouterr()
        assert main(["sync", *selection]) == 0  # the tenant did not change in between
    err = capfd.readouterr().err
    assert "nothing changed" in err  # the no-change path, which used to return early
    assert "dbt build of dim_rooms and room_sync_status: started" in err

    second_run, second_finished = latest_results(server_warehouse_url, emails)
    assert second_run != first_run
    rows = status(server_warehouse_url, emails)
    assert set(rows) == set(emails)
    for email, (state, run_id, last_synced_at, latest_attempt_at) in rows.items():
        assert state == "synced"
        assert run_id == second_run
        assert last_synced_at == latest_attempt_at == second_finished[email]
        assert last_synced_at > first_finished[email]
