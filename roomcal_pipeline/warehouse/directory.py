"""The organizer directory cache (raw.organizer_directory): department per organizer address.

The state only improves (docs/metrics.md, `organizer_group`): a `found` department is
replaced only by another `found` answer; `error` never overwrites `found` or `not_found`;
`forbidden` never overwrites `found`. An answer that is not kept leaves `looked_up_at`
as it was, so a stale entry whose refresh failed is asked again on the next run.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

# A cached answer is looked up again after this long; errors are retried on the next run.
REFRESH_AFTER_DAYS = 7


def addresses_to_look_up(conn: psycopg.Connection, refresh_days: float | None = None) -> list[str]:
    """Organizers seen in raw events that are not cached, stale, or last failed."""
    days = REFRESH_AFTER_DAYS if refresh_days is None else refresh_days
    rows = conn.execute(
        """
        select distinct lower(e.organizer_address)
        from raw.room_events e
        left join raw.organizer_directory d on d.organizer_address = lower(e.organizer_address)
        where e.organizer_address is not null and e.organizer_address like '%%@%%'
          and (d.organizer_address is null
               or d.lookup_status in ('error', 'forbidden')
               or d.looked_up_at <= now() - make_interval(secs => %s * 86400))
        order by 1
        """,
        (days,),
    ).fetchall()
    return [r[0] for r in rows]


def new_organizers(conn: psycopg.Connection, limit: int) -> list[str]:
    """Organizers seen in raw events that the directory was never asked about (at most
    `limit`, for a sync's budget)."""
    rows = conn.execute(
        """
        select distinct lower(e.organizer_address)
        from raw.room_events e
        left join raw.organizer_directory d on d.organizer_address = lower(e.organizer_address)
        where e.organizer_address is not null and e.organizer_address like '%%@%%'
          and d.organizer_address is null
        order by 1
        limit %s
        """,
        (limit,),
    ).fetchall()
    return [r[0] for r in rows]


def upsert_entries(
    conn: psycopg.Connection,
    entries: Iterable[tuple[str, str | None, str]],
    run_id: str | None = None,
) -> int:
    """Store lookup answers (address, department, status) where they improve the state,
    in one transaction; returns how many known organizers changed group. Such a row is
    marked with `run_id`, so that run's marts build covers every date they booked
    (`organizer_change_dates`)."""
    rows = [(address, department, status, run_id) for address, department, status in entries]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            insert into raw.organizer_directory (organizer_address, department, lookup_status)
            values (lower(%s), %s, %s)
            on conflict (organizer_address) do update
            set department = excluded.department, lookup_status = excluded.lookup_status,
                looked_up_at = now(),
                changed_by_run = case
                    when (organizer_directory.department, organizer_directory.lookup_status)
                        is distinct from (excluded.department, excluded.lookup_status)
                    then %s else organizer_directory.changed_by_run end
            where excluded.lookup_status = 'found'
               or (organizer_directory.lookup_status <> 'found'
                   and not (excluded.lookup_status = 'error'
                            and organizer_directory.lookup_status = 'not_found'))
            """,
            rows,
        )
        if run_id is None:
            return 0
        return cur.execute(
            "select count(*) from raw.organizer_directory where changed_by_run = %s", (run_id,)
        ).fetchone()[0]


def organizer_change_dates(conn: psycopg.Connection, run_id: str) -> tuple:
    """First and last UTC date (widened by a day either side, enough for any time zone)
    of the bookings whose organizer changed group in this run: (None, None) if none."""
    return conn.execute(
        """
        select min((e.start_at at time zone 'UTC')::date) - 1,
               max((e.end_at at time zone 'UTC')::date) + 1
        from raw.room_events e
        join raw.organizer_directory d on d.organizer_address = lower(e.organizer_address)
        where d.changed_by_run = %s
        """,
        (run_id,),
    ).fetchone()
