"""Organizer groups on a directory where UPNs differ from mail addresses and people book
from aliases (issue 11): UPN first, then mail / proxyAddresses, through $batch; a directory
without User.Read.All; a transient failure that must not undo a known department; a
department change that reaches every date the organizer booked. Server
backend only, a week of bookings of a few rooms, through `roomcal sync` and `roomcal run`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure

pytestmark = pytest.mark.integration


def expected_group(tenant: SimulatedTenant, address: str) -> str:
    try:
        department = tenant.department(address)
    except KeyError:
        return "external"
    return department or "unassigned"


def booking_groups(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select lower(e.organizer_address), f.organizer_group"
            " from marts.fct_room_bookings f join raw.room_events e"
            " on e.room_email = f.room_email and e.event_id = f.event_id"
            " where e.organizer_address is not null"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for address, group in rows:
        out.setdefault(address, set()).add(group)
    return out


def usage(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select organizer_group, sum(bookings)::int from marts.organizer_group_usage group by 1"
        ).fetchall()
    return dict(rows)


def directory_requests(server: SimulatorServer) -> int:
    """HTTP requests the directory cost: $batch envelopes and direct /users lookups."""
    return sum(
        n
        for path, n in server.stats.attempts.items()
        if path.startswith("/v1.0/$batch")
        or (path.lower().startswith("/v1.0/users") and "calendarview" not in path.lower())
    )


def check_groups(tenant: SimulatedTenant, url: str) -> None:
    groups = booking_groups(url)
    upn_differs = {u.address for u in tenant.users if u.upn}
    aliases = {a for u in tenant.users for a in u.aliases}
    externals = {u.address for u in tenant.externals}
    # The run exercises every kind of organizer.
    assert upn_differs & groups.keys() and aliases & groups.keys() and externals & groups.keys()
    for address, seen in groups.items():
        assert seen == {expected_group(tenant, address)}, address
    for address in (upn_differs | aliases) & groups.keys():
        assert groups[address] != {"external"}
    # organizer_group_usage counts the same groups as the bookings.
    with psycopg.connect(url) as conn:
        per_group = dict(
            conn.execute(
                "select organizer_group, count(*)::int from marts.fct_room_bookings group by 1"
            ).fetchall()
        )
        how = dict(
            conn.execute(
                "select lookup_status, count(*) from raw.organizer_directory group by 1"
            ).fetchall()
        )
    assert set(usage(url)) == set(per_group)
    assert set(how) == {"found", "not_found"}


def test_departments_by_upn_alias_new_organizer_and_transient_failure(
    server_warehouse_url, roomcal_env, tmp_path
):
    """1. `roomcal sync`: organizers whose UPN differs from their mail and organizers known
    by an alias are in their department, externals are `external`.
    2. A booking by an organizer never seen before carries their department after the next
    sync (the sync resolves new organizers before the marts refresh).
    3. `roomcal run` with every entry due for its weekly refresh and the directory
    answering 503: the found departments stay, and so do the marts."""
    today = date.today()
    tenant = SimulatedTenant(seed=7, today=today, history_days=3, future_days=3)
    rooms = [r.email for r in tenant.rooms if r.email and not r.failure and r.in_registry][:3]
    sync = ["sync", "--rooms", ",".join(rooms)]
    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        assert main(sync) == 0
        check_groups(tenant, server_warehouse_url)

        with psycopg.connect(server_warehouse_url) as conn:
            seen = {
                r[0] for r in conn.execute("select organizer_address from raw.organizer_directory")
            }
        # Someone whose UPN differs from their mail and who has not organised yet.
        person = next(u for u in tenant.users if u.upn and u.department and u.address not in seen)
        start = datetime.combine(today + timedelta(days=1), time(10), UTC)
        event_id = tenant.add_event(
            rooms[0],
            {
                "start": start,
                "end": start + timedelta(minutes=30),
                "organizer": {"emailAddress": {"name": person.name, "address": person.address}},
            },
        )
        assert main(sync) == 0
        with psycopg.connect(server_warehouse_url) as conn:
            group = conn.execute(
                "select organizer_group from marts.fct_room_bookings"
                " where room_email = %s and event_id = %s",
                (rooms[0], event_id),
            ).fetchone()
        assert group == (person.department,)

        before_groups = booking_groups(server_warehouse_url)
        before_usage = usage(server_warehouse_url)
        with psycopg.connect(server_warehouse_url) as conn:
            before_dir = conn.execute(
                "select organizer_address, department, lookup_status"
                " from raw.organizer_directory order by 1"
            ).fetchall()
            # Every entry is due for its weekly refresh.
            conn.execute(
                "update raw.organizer_directory set looked_up_at = now() - interval '8 days'"
            )
        server.faults = FaultConfig(users_error_status=503)
        server.reset_stats()
        run = [
            "run",
            "--start",
            today.isoformat(),
            "--end",
            (today + timedelta(days=1)).isoformat(),
            "--rooms",
            ",".join(rooms),
        ]
        assert main(run) == 0
        assert directory_requests(server) >= 1  # the refresh was attempted and failed
        with psycopg.connect(server_warehouse_url) as conn:
            after_dir = conn.execute(
                "select organizer_address, department, lookup_status"
                " from raw.organizer_directory order by 1"
            ).fetchall()
            stale = conn.execute(
                "select count(*) from raw.organizer_directory"
                " where looked_up_at < now() - interval '7 days'"
            ).fetchone()[0]
    assert after_dir == before_dir
    assert stale == len(before_dir)  # still due: asked again on the next run
    assert booking_groups(server_warehouse_url) == before_groups
    assert usage(server_warehouse_url) == before_usage


def test_directory_without_permission_groups_by_domain_cheaply(
    server_warehouse_url, roomcal_env, tmp_path
):
    """No User.Read.All: the first 403 stops the lookups (one $batch for all organizers),
    and every organizer is grouped by their email domain. Run through `roomcal sync` of two
    rooms, the cheapest path that resolves organizers and refreshes the marts."""
    tenant = SimulatedTenant(seed=7, today=date.today(), history_days=3, future_days=3)
    rooms = [r.email for r in tenant.rooms if r.email and not r.failure and r.in_registry][:2]
    with SimulatorServer(tenant, FaultConfig(users_forbidden=True)) as server:
        configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        assert main(["sync", "--rooms", ",".join(rooms)]) == 0
        cost = directory_requests(server)
    groups = booking_groups(server_warehouse_url)
    assert len(groups) > 5  # more organizers than one lookup holds
    assert 1 <= cost <= 3
    for address, seen in groups.items():
        assert seen == {address.split("@", 1)[1]}, address


def test_department_change_refreshes_every_date_the_organizer_booked(
    server_warehouse_url, roomcal_env, tmp_path
):
    """A person moves department: the weekly refresh of `roomcal run` over one day finds
    it, and the marts of every date that person booked (not only that day) follow."""
    today = date.today()
    tenant = SimulatedTenant(seed=7, today=today, history_days=10, future_days=3)
    rooms = [r.email for r in tenant.rooms if r.email and not r.failure and r.in_registry][:3]
    first, rerun = today - timedelta(days=7), today - timedelta(days=1)
    url = server_warehouse_url

    def run(start: date, end: date) -> int:
        window = ["--start", start.isoformat(), "--end", end.isoformat()]
        return main(["run", *window, "--rooms", ",".join(rooms)])

    with SimulatorServer(tenant) as server:
        configure(roomcal_env, server, tenant, url, tmp_path)
        assert run(first, today) == 0
        people = {u.address for u in tenant.users if u.department}
        with psycopg.connect(url) as conn:
            dates_by_organizer = conn.execute(
                "select lower(e.organizer_address), array_agg(distinct f.booking_date)"
                " from marts.fct_room_bookings f join raw.room_events e"
                " on e.room_email = f.room_email and e.event_id = f.event_id"
                " where f.booking_date <> %s group by 1",
                (rerun,),
            ).fetchall()
        mover, booked = max(
            ((a, d) for a, d in dates_by_organizer if a in people), key=lambda row: len(row[1])
        )
        assert len(booked) >= 2  # dates outside the re-run partition
        tenant.set_department(mover, "Relocated Team")
        with psycopg.connect(url) as conn:
            conn.execute(
                "update raw.organizer_directory set looked_up_at = now() - interval '8 days'"
            )
        assert run(rerun, today) == 0

    groups = booking_groups(url)
    assert groups[mover] == {"Relocated Team"}
    check_groups(tenant, url)
    with psycopg.connect(url) as conn:
        relocated = conn.execute(
            "select count(*) from marts.fct_room_bookings where organizer_group = 'Relocated Team'"
            " and booking_date <> %s",
            (rerun,),
        ).fetchone()[0]
    assert relocated >= len(booked)
    assert usage(url)["Relocated Team"] >= relocated
