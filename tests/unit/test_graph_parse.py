from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from roomcal_pipeline.extraction.rows import RejectedEvent, event_row
from roomcal_pipeline.graph.client import parse_retry_after
from roomcal_pipeline.graph.errors import GraphRequestError, reason_for, scrub
from roomcal_pipeline.graph.parse import GraphValueError, parse_datetime_pair, parse_timestamp


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (
            {"dateTime": "2026-11-02T09:00:00.0000000", "timeZone": "UTC"},
            datetime(2026, 11, 2, 9, tzinfo=UTC),
        ),
        (
            {"dateTime": "2026-11-02T09:00:00", "timeZone": "Pacific Standard Time"},
            datetime(2026, 11, 2, 17, tzinfo=UTC),
        ),
        (
            {"dateTime": "2026-11-02T09:00:00.5", "timeZone": "Asia/Kolkata"},
            datetime(2026, 11, 2, 3, 30, 0, 500000, tzinfo=UTC),
        ),
        (
            {"dateTime": "2026-11-02T09:00:00.123456789", "timeZone": "India Standard Time"},
            datetime(2026, 11, 2, 3, 30, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_datetime_pairs(pair, expected):
    assert parse_datetime_pair(pair, "start") == expected


def test_timestamps_any_fraction_length():
    assert parse_timestamp("2026-10-20T08:12:33.1234567Z", "c") == datetime(
        2026, 10, 20, 8, 12, 33, 123456, tzinfo=UTC
    )
    assert parse_timestamp("2026-10-20T08:12:33Z", "c") == datetime(
        2026, 10, 20, 8, 12, 33, tzinfo=UTC
    )
    assert parse_timestamp(None, "c") is None


@pytest.mark.parametrize(
    "pair",
    [
        None,
        {},
        {"dateTime": "yesterday", "timeZone": "UTC"},
        {"dateTime": "2026-11-02T09:00:00", "timeZone": "Nowhere Standard Time"},
    ],
)
def test_bad_pairs_raise_without_value(pair):
    with pytest.raises(GraphValueError) as err:
        parse_datetime_pair(pair, "start")
    assert "yesterday" not in str(err.value)


UTC_ZONE = ZoneInfo("UTC")


def test_event_row_rejects_with_reason_naming_fields_only():
    base = {"id": "e1", "start": {"dateTime": "2026-11-02T10:00:00", "timeZone": "UTC"}}
    with pytest.raises(RejectedEvent, match="end before start"):
        event_row(
            "r@x.example",
            {**base, "end": {"dateTime": "2026-11-02T09:00:00", "timeZone": "UTC"}},
            UTC_ZONE,
        )
    with pytest.raises(RejectedEvent, match="missing end"):
        event_row("r@x.example", base, UTC_ZONE)
    with pytest.raises(RejectedEvent, match="missing id"):
        event_row("r@x.example", {}, UTC_ZONE)


@pytest.mark.parametrize(
    ("zone", "start_utc", "end_utc"),
    [
        # (room zone, expected UTC instants of an all-day event on 2026-11-16)
        ("America/New_York", "2026-11-16T05:00:00+00:00", "2026-11-17T05:00:00+00:00"),
        ("Europe/Amsterdam", "2026-11-15T23:00:00+00:00", "2026-11-16T23:00:00+00:00"),
        ("Asia/Kolkata", "2026-11-15T18:30:00+00:00", "2026-11-16T18:30:00+00:00"),
        ("Australia/Sydney", "2026-11-15T13:00:00+00:00", "2026-11-16T13:00:00+00:00"),
    ],
)
@pytest.mark.parametrize("wire_zone", ["UTC", "Pacific Standard Time", "Asia/Tokyo"])
def test_all_day_events_are_floating_dates_in_the_room_zone(zone, start_utc, end_utc, wire_zone):
    """Graph sends all-day events as midnight to midnight in whatever zone was asked for:
    the wall date counts, at the room's own midnight, whatever `timeZone` says."""
    event = {
        "id": "e1",
        "isAllDay": True,
        "start": {"dateTime": "2026-11-16T00:00:00.0000000", "timeZone": wire_zone},
        "end": {"dateTime": "2026-11-17T00:00:00.0000000", "timeZone": wire_zone},
    }
    row = event_row("r@x.example", event, ZoneInfo(zone))
    assert row[5:7] == (datetime.fromisoformat(start_utc), datetime.fromisoformat(end_utc))
    assert row[9] is True


@pytest.mark.parametrize(
    ("header", "expected"),
    [("5", 5.0), ("0.5", 0.5), ("1.25", 1.25), (None, None), ("soon", None), ("-3", 0.0)],
)
def test_retry_after_forms(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_after_http_date():
    now = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 02 Nov 2026 09:00:07 GMT", now=now) == 7.0


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (404, "ErrorItemNotFound", "mailbox_not_found"),
        (404, "ResourceNotFound", "mailbox_not_found"),
        (404, "ErrorInvalidUser", "mailbox_not_found"),
        (404, "MailboxNotEnabledForRESTAPI", "mailbox_not_enabled"),
        (403, "ErrorAccessDenied", "access_denied"),
        (401, "InvalidAuthenticationToken", "auth_failed"),
        (429, "TooManyRequests", "throttled"),
        (500, "InternalServerError", "error"),
    ],
)
def test_reason_codes(status, code, reason):
    assert reason_for(status, code) == reason


def test_error_detail_never_carries_a_token():
    err = GraphRequestError(
        401, "InvalidAuthenticationToken", "Bearer eyJhbGciOi.eyJzdWIi.sig rejected"
    )
    assert "eyJ" not in err.detail and "[redacted]" in err.detail
    assert "secret123" not in scrub("client_secret=secret123&x=1")
