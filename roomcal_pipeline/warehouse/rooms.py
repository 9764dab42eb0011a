"""The registry in the warehouse: `raw.rooms` is the one list of rooms every run reads."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from roomcal_pipeline.config.registry import RegistryIssue, Room, load_registry
from roomcal_pipeline.config.settings import Settings

_COLUMNS = (
    "room_key, room_email, room_name, building, floor, capacity, timezone, "
    "business_open_minute, business_close_minute, business_days, registry_line"
)


def replace_rooms(conn: psycopg.Connection, rooms: Sequence[Room]) -> None:
    """Make raw.rooms equal to the registry, in one transaction."""
    with conn.transaction():
        conn.execute("delete from raw.rooms")
        with conn.cursor().copy(f"copy raw.rooms ({_COLUMNS}) from stdin") as copy:
            for r in rooms:
                copy.write_row(
                    (
                        r.key,
                        r.email,
                        r.name,
                        r.building,
                        r.floor,
                        r.capacity,
                        r.timezone,
                        r.opens_minute,
                        r.closes_minute,
                        r.business_days_text,
                        r.line,
                    )
                )


def read_rooms(conn: psycopg.Connection, keys: Sequence[str] | None = None) -> list[Room]:
    """Registered rooms in registry order, optionally only those with the given keys or emails."""
    sql = f"select {_COLUMNS} from raw.rooms"
    params: tuple = ()
    if keys:
        sql += " where room_key = any(%s) or room_email = any(%s)"
        lowered = [k.lower() for k in keys]
        params = (lowered, lowered)
    rows = conn.execute(sql + " order by registry_line, room_key", params).fetchall()
    return [
        Room(
            key=row[0],
            email=row[1],
            name=row[2],
            building=row[3] or "",
            floor=row[4] or "",
            capacity=row[5],
            timezone=row[6],
            opens_minute=row[7],
            closes_minute=row[8],
            business_days=frozenset(int(d) for d in row[9].split(",") if d),
            line=row[10],
        )
        for row in rows
    ]


def refresh_registry(
    conn: psycopg.Connection, settings: Settings
) -> tuple[list[Room], list[RegistryIssue]]:
    """Load ROOMCAL_ROOMS_FILE into raw.rooms; returns the rooms and the rows it rejected."""
    rooms, issues = load_registry(
        settings.require_rooms_file(),
        settings.timezone,
        settings.business_hours,
        settings.business_days,
    )
    replace_rooms(conn, rooms)
    return rooms, issues
