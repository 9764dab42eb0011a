"""Room discovery: the tenant's rooms (places API) against the registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg


@dataclass
class DiscoveryReport:
    tenant_rooms: int
    missing_from_registry: list[str]  # rooms of the tenant nobody registered
    not_rooms_in_tenant: list[str]  # registered emails the tenant does not list as rooms


def replace_tenant_rooms(conn: psycopg.Connection, rooms: Sequence[dict]) -> None:
    with conn.transaction():
        conn.execute("delete from raw.tenant_rooms")
        with conn.cursor().copy(
            "copy raw.tenant_rooms (room_email, display_name, capacity, building, floor_number)"
            " from stdin"
        ) as copy:
            seen = set()
            for r in rooms:
                if r["email"] in seen:
                    continue
                seen.add(r["email"])
                capacity = r["capacity"] if isinstance(r["capacity"], int) else None
                floor = r["floor_number"] if isinstance(r["floor_number"], int) else None
                copy.write_row((r["email"], r["display_name"], capacity, r["building"], floor))


def discovery_report(conn: psycopg.Connection) -> DiscoveryReport | None:
    """None when discovery has never run (no row in raw.tenant_rooms)."""
    tenant = conn.execute("select count(*) from raw.tenant_rooms").fetchone()[0]
    if not tenant:
        return None
    missing = [
        r[0]
        for r in conn.execute(
            "select t.room_email from raw.tenant_rooms t left join raw.rooms r"
            " on r.room_email = t.room_email where r.room_key is null order by 1"
        )
    ]
    unknown = [
        r[0]
        for r in conn.execute(
            "select r.room_email from raw.rooms r left join raw.tenant_rooms t"
            " on t.room_email = r.room_email"
            " where r.room_email is not null and t.room_email is null order by 1"
        )
    ]
    return DiscoveryReport(tenant, missing, unknown)
