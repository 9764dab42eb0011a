"""The registry in the warehouse: `raw.rooms` is the one list of rooms every run reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import psycopg

from roomcal_pipeline.config.registry import RegistryIssue, Room
from roomcal_pipeline.config.settings import Settings

_COLUMNS = (
    "room_key, room_email, room_name, building, floor, capacity, timezone, "
    "business_open_minute, business_close_minute, business_days, registry_line"
)


def replace_rooms(
    conn: psycopg.Connection,
    rooms: Sequence[Room],
    issues: Sequence[RegistryIssue] = (),
    defaults: Room | None = None,
) -> None:
    """Make the registered rooms of raw.rooms equal to the registry, in one transaction.

    A room is data, never a crash: a room that leaves the registry, or whose row became
    malformed, keeps its last valid row (and so its history in the marts), marked
    `not_registered` or `invalid_registry_row` with the line and cause; it is no longer
    extracted. A room that left the registry with nothing stored is forgotten. `defaults`
    gives the settings of a malformed row's room that was never registered before.
    """
    with conn.transaction():
        conn.execute(
            "create temp table registry_rooms (like raw.rooms including defaults) on commit drop"
        )
        with conn.cursor().copy(f"copy registry_rooms ({_COLUMNS}) from stdin") as copy:
            for r in rooms:
                copy.write_row(_row(r))
        conn.execute(
            f"""
            insert into raw.rooms ({_COLUMNS}, registry_status, registry_detail, loaded_at)
            select {_COLUMNS}, 'registered', null, now() from registry_rooms
            on conflict (room_key) do update set
                room_email = excluded.room_email, room_name = excluded.room_name,
                building = excluded.building, floor = excluded.floor,
                capacity = excluded.capacity, timezone = excluded.timezone,
                business_open_minute = excluded.business_open_minute,
                business_close_minute = excluded.business_close_minute,
                business_days = excluded.business_days, registry_line = excluded.registry_line,
                registry_status = 'registered', registry_detail = null, loaded_at = now()
            """
        )
        invalid = {i.room_key: i for i in issues if i.room_key}
        for key, issue in invalid.items():
            detail = f"registry line {issue.line}: {issue.reason}"
            updated = conn.execute(
                "update raw.rooms set registry_status = 'invalid_registry_row',"
                " registry_detail = %s where room_key = %s"
                " and not exists (select 1 from registry_rooms g where g.room_key = %s)",
                (detail, key, key),
            ).rowcount
            if not updated and defaults is not None and not any(r.key == key for r in rooms):
                placeholder = replace(
                    defaults,
                    key=key,
                    email=None if key.startswith("noemail:") else key,
                    name=issue.room_name or key,
                    line=issue.line,
                )
                conn.execute(
                    f"insert into raw.rooms ({_COLUMNS}, registry_status, registry_detail)"
                    " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                    " 'invalid_registry_row', %s) on conflict do nothing",
                    (*_row(placeholder), detail),
                )
        # Rooms gone from the registry: kept with their history, or forgotten if they have none.
        conn.execute(
            """
            delete from raw.rooms r
            where not exists (select 1 from registry_rooms g where g.room_key = r.room_key)
              and not (r.room_key = any(%s))
              and not exists (select 1 from raw.room_sync_results s
                              where s.room_key = r.room_key and s.status = 'synced')
              and not exists (select 1 from raw.room_events e where e.room_email = r.room_email)
            """,
            (list(invalid),),
        )
        conn.execute(
            """
            update raw.rooms r
            set registry_status = 'not_registered',
                registry_detail = 'removed from the room registry on '
                                  || to_char(now() at time zone 'UTC', 'YYYY-MM-DD')
                                  || '; its history stays in the marts'
            where r.registry_status = 'registered'
              and not exists (select 1 from registry_rooms g where g.room_key = r.room_key)
              and not (r.room_key = any(%s))
            """,
            (list(invalid),),
        )


def _row(r: Room) -> tuple:
    return (
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


def read_rooms(conn: psycopg.Connection, keys: Sequence[str] | None = None) -> list[Room]:
    """Registered rooms in registry order, optionally only those with the given keys or emails
    (rooms that left the registry or whose row is malformed are not extracted)."""
    sql = f"select {_COLUMNS} from raw.rooms where registry_status = 'registered'"
    params: tuple = ()
    if keys:
        sql += " and (room_key = any(%s) or room_email = any(%s))"
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
    rooms, issues = settings.load_registry()
    defaults = Room(
        key="",
        email=None,
        name="",
        building="",
        floor="",
        capacity=None,
        timezone=settings.timezone,
        opens_minute=settings.business_hours[0],
        closes_minute=settings.business_hours[1],
        business_days=settings.business_days,
        line=0,
    )
    replace_rooms(conn, rooms, issues, defaults)
    return rooms, issues
