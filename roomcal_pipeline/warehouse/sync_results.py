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
) -> None:
    """Upsert this run's results (a retried run step replaces its own rows)."""
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
                        start_date,
                        end_date,
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
