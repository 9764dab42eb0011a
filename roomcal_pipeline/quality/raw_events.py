"""Validation of what one extraction run loaded, with quarantine of failing events."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from roomcal_pipeline.quality.gx_runner import SuiteOutcome, validate_query
from roomcal_pipeline.quality.suites import (
    EVENT_KEYS,
    raw_event_row_expectations,
    raw_event_table_expectations,
    run_window_query,
)
from roomcal_pipeline.warehouse.quarantine import (
    flag_rooms_with_quarantined_events,
    quarantine_loaded_events,
    quarantine_summary,
)


@dataclass
class RunQuality:
    validation: SuiteOutcome  # the window after failing events were set aside
    quarantined_by_checks: int
    rooms_flagged: list[str]
    quarantine: dict


def validate_run(database_url: str, run_id: str) -> RunQuality:
    """Row-level expectations first: failing events move to quarantine. Then the whole
    suite on what stays, which is what the marts will read. Then rooms with events set
    aside (here or at parsing) are flagged: still synced, with the count in their detail."""
    query = run_window_query(run_id)
    rows = validate_query(
        database_url,
        "raw_events_rows",
        query,
        raw_event_row_expectations(),
        EVENT_KEYS,
        complete=True,
    )
    failures = [
        (key["room_email"], key["event_id"], outcome.expectation)
        for outcome in rows.failed
        for key in outcome.all_keys
    ]
    with psycopg.connect(database_url) as conn:
        moved = quarantine_loaded_events(conn, run_id, failures)
        expected = conn.execute(
            "select coalesce(sum(events_loaded), 0) from raw.room_sync_results"
            " where run_id = %s and status = 'synced'",
            (run_id,),
        ).fetchone()[0]
    validation = validate_query(
        database_url,
        "raw_events",
        query,
        raw_event_row_expectations() + raw_event_table_expectations(int(expected)),
        EVENT_KEYS,
    )
    with psycopg.connect(database_url) as conn:
        flagged = flag_rooms_with_quarantined_events(conn, run_id)
        summary = quarantine_summary(conn, run_id)
    return RunQuality(validation, moved, flagged, summary)
