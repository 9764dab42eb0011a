"""The expectation suites, kept in code and versioned with the project."""

from __future__ import annotations

import re

import great_expectations.expectations as gxe

from roomcal_pipeline.extraction.rows import RAW_EVENT_COLUMNS

EVENT_TYPES = ["singleInstance", "occurrence", "exception", "seriesMaster"]
SHOW_AS = ["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]
SENSITIVITY = ["normal", "personal", "private", "confidential"]
MAX_EVENT_HOURS = 24 * 31  # longer than a month is not a room booking Graph would return
EVENT_KEYS = ["room_email", "event_id"]
_RUN_ID = re.compile(r"^[A-Za-z0-9_\-]+$")


def run_window_query(run_id: str) -> str:
    """The rows one run loaded: each synced room's events whose start lies in its window."""
    if not _RUN_ID.match(run_id):
        raise ValueError("unexpected run id")
    return f"""
        select e.*, extract(epoch from e.end_at - e.start_at) / 3600.0 as duration_hours
        from raw.room_events e
        join raw.room_sync_results r
          on r.room_email = e.room_email and r.run_id = '{run_id}' and r.status = 'synced'
        join raw.rooms m on m.room_key = r.room_key
        where e.start_at >= (r.window_start_date::timestamp at time zone m.timezone)
          and e.start_at < (r.window_end_date::timestamp at time zone m.timezone)
    """


def raw_event_row_expectations() -> list:
    """Expectations a single event can fail; its room and id identify it for quarantine."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="start_at"),
        gxe.ExpectColumnValuesToNotBeNull(column="end_at"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_at", column_B="start_at", or_equal=True
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="duration_hours", min_value=0, max_value=MAX_EVENT_HOURS
        ),
        gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=EVENT_TYPES),
        gxe.ExpectColumnValuesToBeInSet(column="show_as", value_set=SHOW_AS),
        gxe.ExpectColumnValuesToBeInSet(column="sensitivity", value_set=SENSITIVITY),
    ]


def raw_event_table_expectations(expected_rows: int) -> list:
    """Expectations about the window as a whole."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="event_id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=EVENT_KEYS),
        gxe.ExpectTableRowCountToEqual(value=expected_rows),
        # No column outside the privacy allowlist (plus load time and the derived duration).
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*RAW_EVENT_COLUMNS, "extracted_at", "duration_hours"], exact_match=True
        ),
    ]


def booking_rate_expectations() -> list:
    return [
        gxe.ExpectColumnValuesToBeBetween(column="booking_rate", min_value=0, max_value=1),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="business_minutes", column_B="booked_minutes", or_equal=True
        ),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["room_email", "booking_date"]),
        gxe.ExpectColumnValuesToNotBeNull(column="booking_rate"),
    ]


def sync_status_expectations(registered_rooms: int) -> list:
    return [
        gxe.ExpectTableRowCountToEqual(value=registered_rooms),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["synced", "not_synced"]),
        gxe.ExpectColumnValuesToBeUnique(column="room_key"),
    ]
