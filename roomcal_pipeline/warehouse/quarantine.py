"""Events set aside: parse failures at extraction, and rows that fail a row-level expectation."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg


def quarantine_loaded_events(
    conn: psycopg.Connection, run_id: str, failures: Iterable[tuple[str, str, str]]
) -> int:
    """Move (room_email, event_id, reason) rows of this run from raw.room_events to
    raw.quarantined_events, in one transaction. Returns how many events moved."""
    rows = sorted(set(failures))
    if not rows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "create temp table failing (room_email text, event_id text, reason text) on commit drop"
        )
        with cur.copy("copy failing (room_email, event_id, reason) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            """
            insert into raw.quarantined_events
                (room_email, event_id, reason, window_start, window_end, run_id)
            select f.room_email, f.event_id, string_agg(f.reason, '; ' order by f.reason),
                   min(r.window_start_date::timestamp at time zone m.timezone),
                   min(r.window_end_date::timestamp at time zone m.timezone), %s
            from failing f
            join raw.room_sync_results r on r.room_email = f.room_email and r.run_id = %s
            join raw.rooms m on m.room_key = r.room_key
            group by f.room_email, f.event_id
            """,
            (run_id, run_id),
        )
        cur.execute(
            """
            update raw.room_sync_results r
            set events_loaded = r.events_loaded - c.n,
                events_quarantined = r.events_quarantined + c.n
            from (select room_email, count(distinct event_id) as n from failing group by 1) c
            where r.run_id = %s and r.room_email = c.room_email
            """,
            (run_id,),
        )
        cur.execute(
            "delete from raw.room_events e using failing f"
            " where e.room_email = f.room_email and e.event_id = f.event_id"
        )
        return cur.rowcount


def flag_rooms_with_quarantined_events(conn: psycopg.Connection, run_id: str) -> list[str]:
    """A room with events set aside in this run stays `synced` (its valid events stay
    loaded and in the marts), and its detail says how many events were set aside and
    why. Returns the rooms flagged."""
    with conn.transaction():
        rows = conn.execute(
            """
            with reasons as (
                select room_email, reason, count(*) as n
                from raw.quarantined_events where run_id = %s
                group by room_email, reason
            ), summary as (
                select room_email, sum(n) as total,
                       string_agg(n || ' x ' || reason, '; ' order by n desc, reason) as text
                from reasons group by room_email
            )
            update raw.room_sync_results r
            set detail = left(s.total || ' event(s) set aside in raw.quarantined_events: '
                              || s.text, 1000),
                events_quarantined = greatest(r.events_quarantined, s.total)
            from summary s
            where r.run_id = %s and r.room_email = s.room_email and r.status = 'synced'
            returning r.room_email
            """,
            (run_id, run_id),
        ).fetchall()
    return sorted(r[0] for r in rows)


def quarantine_summary(conn: psycopg.Connection, run_id: str) -> dict:
    """Counts by reason and sample keys (room, event id): never an event attribute."""
    by_reason = dict(
        conn.execute(
            "select reason, count(*) from raw.quarantined_events where run_id = %s"
            " group by reason order by count(*) desc, reason",
            (run_id,),
        ).fetchall()
    )
    samples = [
        {"room_email": room, "event_id": event_id or "(missing)", "reason": reason}
        for room, event_id, reason in conn.execute(
            "select room_email, event_id, reason from raw.quarantined_events where run_id = %s"
            " order by room_email, event_id limit 20",
            (run_id,),
        )
    ]
    return {"by_reason": by_reason, "samples": samples, "total": sum(by_reason.values())}
