"""Per-room results of each run, in raw.room_sync_results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import psycopg

from roomcal_pipeline.extraction.load import RoomSyncResult

_COLUMNS = (
    "run_id, room_key, room_email, room_name, window_start_date, window_end_date, status, reason, "
    "detail, events_loaded, events_quarantined, requests, retries, throttled_responses, "
    "throttle_wait_seconds, started_at, finished_at"
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
                    )
                )
