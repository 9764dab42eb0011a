"""The organizer directory cache (raw.organizer_directory): department per organizer address."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

# A cached answer is looked up again after this long; errors are retried on the next run.
REFRESH_AFTER_DAYS = 7


def addresses_to_look_up(conn: psycopg.Connection) -> list[str]:
    """Organizers seen in raw events that are not cached, stale, or last failed."""
    rows = conn.execute(
        """
        select distinct lower(e.organizer_address)
        from raw.room_events e
        left join raw.organizer_directory d on d.organizer_address = lower(e.organizer_address)
        where e.organizer_address is not null and e.organizer_address like '%%@%%'
          and (d.organizer_address is null
               or d.lookup_status in ('error', 'forbidden')
               or d.looked_up_at < now() - make_interval(days => %s))
        order by 1
        """,
        (REFRESH_AFTER_DAYS,),
    ).fetchall()
    return [r[0] for r in rows]


def upsert_entries(
    conn: psycopg.Connection, entries: Iterable[tuple[str, str | None, str]]
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            insert into raw.organizer_directory (organizer_address, department, lookup_status)
            values (%s, %s, %s)
            on conflict (organizer_address) do update
            set department = excluded.department, lookup_status = excluded.lookup_status,
                looked_up_at = now()
            """,
            list(entries),
        )
