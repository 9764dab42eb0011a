"""Per-room results of each run, in raw.room_sync_results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import psycopg

from roomcal_pipeline.graph.client import RequestStats


@dataclass
class RoomSyncResult:
    """The outcome of one room in one run (a row of raw.room_sync_results)."""

    room_key: str
    room_email: str | None
    room_name: str
    status: str  # synced | not_synced
    reason: str | None = None
    detail: str | None = None
    events_loaded: int = 0
    events_quarantined: int = 0
    stats: RequestStats = field(default_factory=RequestStats)
    changes: int = 0  # delta sync: events upserted or removed
    changed_dates: set[date] = field(default_factory=set)  # local dates whose rows changed
    window: tuple[date, date] | None = None  # the room's own local dates, when not the run's
    read_in_full: bool = False  # every event of the window read (a backfill, a new delta window)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))


_COLUMNS = (
    "run_id, room_key, room_email, room_name, window_start_date, window_end_date, status, reason, "
    "detail, events_loaded, events_quarantined, requests, retries, throttled_responses, "
    "throttle_wait_seconds, started_at, finished_at, changed_first_date, changed_last_date"
)


def record_results(
    conn: psycopg.Connection,
    run_id: str,
    start_date: date,
    end_date: date,
    results: Sequence[RoomSyncResult],
    keep_days: int = 7,
) -> None:
    """Upsert this run's results (a retried run step replaces its own rows), then prune
    these rooms' history, in one transaction.

    What is kept: every result of the last `keep_days` days, and for each room and window
    its latest result of each status. The latest `synced` result of a window is what says
    its dates are covered (int_room_calendar_days), the latest failure says why a window
    failed last; older repeats of a window (a sync every 10 minutes repeats the same one)
    go. So the table grows with rooms x windows, not with the number of syncs."""
    with conn.transaction():
        conn.execute(
            "delete from raw.room_sync_results where run_id = %s and room_key = any(%s)",
            (run_id, [r.room_key for r in results]),
        )
        with conn.cursor().copy(f"copy raw.room_sync_results ({_COLUMNS}) from stdin") as copy:
            for r in results:
                copy.write_row(
                    (
                        run_id,
                        r.room_key,
                        r.room_email,
                        r.room_name,
                        *(r.window or (start_date, end_date)),
                        r.status,
                        r.reason,
                        r.detail,
                        r.events_loaded,
                        r.events_quarantined,
                        r.stats.requests,
                        r.stats.retries,
                        r.stats.throttled,
                        round(r.stats.throttle_wait_seconds, 3),
                        r.started_at,
                        r.finished_at,
                        min(r.changed_dates, default=None),
                        max(r.changed_dates, default=None),
                    )
                )
        conn.execute(
            """
            delete from raw.room_sync_results old
            where old.room_key = any(%(rooms)s)
              and old.finished_at < now() - make_interval(days => %(days)s)
              and exists (
                  select 1 from raw.room_sync_results newer
                  where newer.room_key = old.room_key
                    and newer.window_start_date = old.window_start_date
                    and newer.window_end_date = old.window_end_date
                    and newer.status = old.status
                    and (newer.finished_at, newer.run_id) > (old.finished_at, old.run_id)
              )
            """,
            {"rooms": [r.room_key for r in results], "days": keep_days},
        )
