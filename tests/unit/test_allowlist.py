"""The allowlist keeps only docs/privacy.md attributes, at every level of nesting."""

import json

from roomcal_pipeline.privacy import STORED_EVENT_FIELDS, filter_event

SECRET = "SECRET-VALUE"


def full_event():
    return {
        "id": "AAMk1",
        "iCalUId": "uid1",
        "subject": SECRET,
        "body": {"contentType": "html", "content": SECRET},
        "bodyPreview": SECRET,
        "attachments": [{"name": SECRET}],
        "categories": [SECRET],
        "webLink": SECRET,
        "start": {"dateTime": "2026-11-02T09:00:00.0000000", "timeZone": "UTC", "x": SECRET},
        "end": {"dateTime": "2026-11-02T10:00:00.0000000", "timeZone": "UTC"},
        "organizer": {"emailAddress": {"name": "Ann", "address": "ann@corp.example", "x": SECRET}},
        "attendees": [
            {
                "type": "required",
                "status": {"response": "accepted", "time": SECRET},
                "emailAddress": {"name": "Bob", "address": "bob@corp.example"},
                "proposedNewTime": SECRET,
            }
        ],
        "location": {
            "displayName": "Room 1",
            "locationEmailAddress": "room1@corp.example",
            "locationType": "conferenceRoom",
            "uniqueId": SECRET,
            "address": {"street": SECRET},
        },
        "locations": [{"displayName": "Room 1", "coordinates": {"x": SECRET}}],
        "recurrence": {
            "pattern": {"type": "weekly", "daysOfWeek": ["monday", {"x": SECRET}], "x": SECRET},
            "range": {"type": "noEnd", "startDate": "2026-01-05", "x": SECRET},
            "x": SECRET,
        },
        "sensitivity": "private",
        "showAs": "busy",
        "isCancelled": False,
        "type": "occurrence",
        "seriesMasterId": "master1",
        "onlineMeetingProvider": "teamsForBusiness",
        "isOnlineMeeting": False,
        "onlineMeeting": {"joinUrl": SECRET},
        "onlineMeetingUrl": SECRET,
        "transactionId": SECRET,
        "unknownFutureField": SECRET,
    }


def test_no_sensitive_value_survives_anywhere():
    out = filter_event(full_event())
    assert SECRET not in json.dumps(out)
    assert set(out) <= STORED_EVENT_FIELDS


def test_allowlisted_values_kept():
    out = filter_event(full_event())
    assert out["id"] == "AAMk1"
    assert out["organizer"] == {"emailAddress": {"name": "Ann", "address": "ann@corp.example"}}
    assert out["attendees"][0] == {
        "type": "required",
        "status": {"response": "accepted"},
        "emailAddress": {"name": "Bob", "address": "bob@corp.example"},
    }
    assert out["location"]["locationEmailAddress"] == "room1@corp.example"
    assert out["recurrence"]["pattern"] == {"type": "weekly", "daysOfWeek": ["monday"]}
    assert out["start"] == {"dateTime": "2026-11-02T09:00:00.0000000", "timeZone": "UTC"}


def test_online_meeting_derived_from_any_source_without_keeping_the_link():
    base = {"id": "1"}
    assert filter_event({**base, "isOnlineMeeting": True})["is_online_meeting"] is True
    assert filter_event({**base, "onlineMeeting": {"joinUrl": "https://x"}})["is_online_meeting"]
    assert filter_event({**base, "onlineMeetingUrl": "https://x"})["is_online_meeting"]
    assert filter_event(base)["is_online_meeting"] is False


def test_wrong_types_in_allowlisted_fields_are_dropped():
    out = filter_event({"id": {"nested": SECRET}, "subject": SECRET, "attendees": SECRET})
    assert SECRET not in json.dumps(out)
    assert out["id"] is None


def test_delta_removal_marker_kept_without_extras():
    out = filter_event({"id": "1", "@removed": {"reason": "deleted", "x": SECRET}})
    assert out["@removed"] == {"reason": "deleted"}
