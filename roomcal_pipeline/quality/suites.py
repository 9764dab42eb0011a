"""The expectation suites, kept in code and versioned with the project."""

from __future__ import annotations

import re

import great_expectations.expectations as gxe

from roomcal_pipeline.extraction.rows import RAW_EVENT_COLUMNS

EVENT_TYPES = ["singleInstance", "occurrence", "exception", "seriesMaster"]
SHOW_AS = ["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]
SENSITIVITY = ["normal", "personal", "private", "confidential"]
EVENT_KEYS = ["room_email", "event_id"]
_RUN_ID = re.compile(r"^[A-Za-z0-9_\-]+$")


def run_window_query(run_id: str) -> str:
    """The rows one run loaded: each synced room's events that overlap its window (a
    window owns every row it overlaps, see extraction/unit_of_work.py)."""
    if not _RUN_ID.match(run_id):
        raise ValueError("unexpected run id")
    return f"""
        select e.*
        from raw.room_events e
        join (
            select r.room_email,
                   r.window_start_date::timestamp at time zone m.timezone as ws,
                   r.window_end_date::timestamp at time zone m.timezone as we
            from raw.room_sync_results r
            join raw.rooms m on m.room_key = r.room_key
            where r.run_id = '{run_id}' and r.status = 'synced'
        ) w on w.room_email = e.room_email
        where (e.start_at < w.we and e.end_at > w.ws)
           or (e.start_at = e.end_at and e.start_at >= w.ws and e.start_at < w.we)
    """


def raw_event_row_expectations() -> list:
    """Expectations a single event can fail; its room and id identify it for quarantine.
    No length cap: rooms are blocked for weeks (renovations, project rooms)."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="start_at"),
        gxe.ExpectColumnValuesToNotBeNull(column="end_at"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_at", column_B="start_at", or_equal=True
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
        # No column outside the privacy allowlist (plus the load time).
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*RAW_EVENT_COLUMNS, "extracted_at"], exact_match=True
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
