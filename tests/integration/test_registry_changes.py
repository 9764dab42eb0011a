"""A room is data, never a crash: a registry row with a mistake, or a room removed from the
registry, never fails a run or a dbt test; those rooms keep their history in the marts and
show up in room_sync_status with their reason."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import psycopg
import pytest

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure

pytestmark = pytest.mark.integration

TODAY = date.today()
FIRST = (TODAY - timedelta(days=14), TODAY - timedelta(days=7))
SECOND = (TODAY - timedelta(days=7), TODAY)


def _history(url: str, email: str) -> tuple[int, int]:
    """(bookings, daily rate rows) of a room in the first range."""
    with psycopg.connect(url) as conn:
        bookings = conn.execute(
            "select count(*) from marts.fct_room_bookings where room_email = %s"
            " and booking_date >= %s and booking_date < %s",
            (email, *FIRST),
        ).fetchone()[0]
        days = conn.execute(
            "select count(*) from marts.room_booking_rate_daily where room_email = %s"
            " and booking_date >= %s and booking_date < %s",
            (email, *FIRST),
        ).fetchone()[0]
    return bookings, days


def test_a_bad_row_and_a_removed_room_keep_their_history_and_never_fail_the_run(
    server_warehouse_url, roomcal_env, tmp_path, capsys
):
    tenant = SimulatedTenant(seed=37, today=TODAY, history_days=20, future_days=5)
    rows = list(csv.DictReader(io.StringIO(tenant.registry_csv())))
    healthy = [r["email"] for r in rows if r["email"] and not tenant.room(r["email"]).failure]
    typo, removed, bystander = healthy[0], healthy[1], healthy[2]
    with SimulatorServer(tenant) as server:
        registry = configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        assert main(["run", "--start", FIRST[0].isoformat(), "--end", FIRST[1].isoformat()]) == 0
        before = {email: _history(server_warehouse_url, email) for email in (typo, removed)}
        assert all(b > 0 and d > 0 for b, d in before.values())

        # The user edits the registry: a typo in one room's time zone, another room removed.
        edited = [
            {**row, "timezone": "Europe/Londn"} if row["email"] == typo else row
            for row in rows
            if row["email"] != removed
        ]
        typo_line = 2 + [row["email"] for row in edited].index(typo)  # after the header
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(edited)
        registry.write_text(out.getvalue(), encoding="utf-8")
        capsys.readouterr()
        code = main(["run", "--start", SECOND[0].isoformat(), "--end", SECOND[1].isoformat()])
        printed = capsys.readouterr().out
        assert code == 0  # no dbt test failed, no step failed
        assert main(["status"]) == 0
        status_text = capsys.readouterr().out

    with psycopg.connect(server_warehouse_url) as conn:
        status = {
            r[0]: r[1:]
            for r in conn.execute(
                "select room_email, status, reason, detail, last_synced_at"
                " from marts.room_sync_status"
            )
        }
        registered = {
            r[0]: r[1]
            for r in conn.execute("select room_email, registry_status from marts.dim_rooms")
        }
        synced_now = {
            r[0]
            for r in conn.execute(
                "select room_email from raw.room_sync_results"
                " where status = 'synced' and window_start_date = %s",
                (SECOND[0],),
            )
        }
    assert status[typo][:2] == ("not_synced", "invalid_registry_row")
    assert f"registry line {typo_line}" in status[typo][2] and "Europe/Londn" in status[typo][2]
    assert status[removed][:2] == ("not_synced", "not_registered")
    assert status[typo][3] is not None and status[removed][3] is not None  # last sync kept
    assert status[bystander][:2] == ("synced", None)
    assert registered[typo] == "invalid_registry_row" and registered[removed] == "not_registered"
    # The other healthy rooms synced the second range; the two rooms were not extracted.
    assert set(healthy) - {typo, removed} <= synced_now
    assert not {typo, removed} & synced_now
    # Their history is still in the marts, unchanged.
    assert {email: _history(server_warehouse_url, email) for email in (typo, removed)} == before
    # The run and `roomcal status` say so.
    assert "Rooms kept for their history" in printed and removed in printed and typo in printed
    assert "registry row is malformed" in status_text and "left the registry" in status_text
