"""An allowlisted event as a row of `raw.room_events`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from roomcal_pipeline.graph.parse import GraphValueError, parse_datetime_pair, parse_timestamp

RAW_EVENT_COLUMNS = (
    "room_email",
    "event_id",
    "ical_uid",
    "series_master_id",
    "event_type",
    "start_at",
    "end_at",
    "start_timezone",
    "end_timezone",
    "is_all_day",
    "created_at",
    "last_modified_at",
    "organizer_name",
    "organizer_address",
    "attendees",
    "location",
    "locations",
    "recurrence",
    "sensitivity",
    "is_cancelled",
    "show_as",
    "online_meeting_provider",
    "is_online_meeting",
)


class RejectedEvent(ValueError):
    """An event that cannot be stored; the reason names fields, never values."""


_dumps = orjson.dumps
_parse_iso = datetime.fromisoformat
# Zone names parse.zone_for maps to UTC; only "UTC" reaches this code in practice (roomcal
# sends no Prefer: outlook.timezone, so Graph answers in UTC).
_UTC_ZONE_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Z", "Coordinated Universal Time"})

# event_row runs once per event: the helpers below take the common shapes (a UTC
# dateTime pair, an ISO timestamp, dicts from the allowlist) without a detour and hand
# anything else to the general parsers in graph/parse.py, so every input gives the same
# row, or the same RejectedEvent reason, as those parsers alone.


def _json(value: Any) -> str | None:
    return None if value is None else _dumps(value).decode()


def _pair(pair: Any, field: str) -> datetime:
    """parse_datetime_pair, with a fast path for a UTC `dateTimeTimeZone`."""
    if type(pair) is dict:
        text = pair.get("dateTime")
        zone = pair.get("timeZone")
        if type(text) is str and type(zone) is str and zone in _UTC_ZONE_NAMES:
            try:
                value = _parse_iso(text)
            except ValueError:
                return parse_datetime_pair(pair, field)
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
    return parse_datetime_pair(pair, field)


def _stamp(text: Any, field: str) -> datetime | None:
    """parse_timestamp, with a fast path for a string Python reads as it is."""
    if type(text) is str:
        try:
            value = _parse_iso(text)
        except ValueError:
            return parse_timestamp(text, field)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return parse_timestamp(text, field)


def _floating(pair: Any, field: str, zone: ZoneInfo) -> datetime:
    """An all-day bound: Graph's wall date, at midnight in the room's zone.

    Graph returns all-day events as midnight to midnight whatever zone is asked for
    (microsoft-graph-docs issues 1802 and 16798): they are floating dates, so the
    `timeZone` beside them says nothing about the instant.
    """
    if type(pair) is not dict or type(pair.get("dateTime")) is not str:
        raise GraphValueError(f"missing {field}")
    try:
        day = date.fromisoformat(pair["dateTime"][:10])
    except ValueError:
        raise GraphValueError(f"{field}: not an ISO 8601 date-time") from None
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _location(loc: dict[str, Any] | None) -> dict[str, Any] | None:
    if not loc:
        return None
    get = loc.get
    return {
        "display_name": get("displayName"),
        "email": get("locationEmailAddress"),
        "type": get("locationType"),
    }


def _attendee(att: dict[str, Any] | None) -> dict[str, Any] | None:
    if not att:
        return None
    get = att.get
    email = get("emailAddress") or _EMPTY
    status = get("status") or _EMPTY
    return {
        "name": email.get("name"),
        "address": email.get("address"),
        "type": get("type"),
        "response": status.get("response"),
    }


_EMPTY: dict[str, Any] = {}


def event_row(room_email: str, event: dict[str, Any], zone: ZoneInfo) -> tuple:
    """The raw row of one allowlisted event on a room whose time zone is `zone`, or
    RejectedEvent with a reason. All-day events become the room's local midnights."""
    get = event.get
    event_id = get("id")
    if not isinstance(event_id, str) or not event_id:
        raise RejectedEvent("missing id")
    start = get("start")
    end = get("end")
    try:
        if get("isAllDay") is True:
            start_at = _floating(start, "start", zone)
            end_at = _floating(end, "end", zone)
        else:
            start_at = _pair(start, "start")
            end_at = _pair(end, "end")
        created_at = _stamp(get("createdDateTime"), "createdDateTime")
        modified_at = _stamp(get("lastModifiedDateTime"), "lastModifiedDateTime")
    except GraphValueError as exc:
        raise RejectedEvent(str(exc)) from None
    if end_at < start_at:
        raise RejectedEvent("end before start")
    organizer = (get("organizer") or _EMPTY).get("emailAddress") or _EMPTY
    attendees = get("attendees")
    location = get("location")
    locations = get("locations")
    recurrence = get("recurrence")
    return (
        room_email,
        event_id,
        get("iCalUId"),
        get("seriesMasterId"),
        get("type"),
        start_at,
        end_at,
        (start or _EMPTY).get("timeZone"),
        (end or _EMPTY).get("timeZone"),
        get("isAllDay"),
        created_at,
        modified_at,
        organizer.get("name"),
        organizer.get("address"),
        None if attendees is None else _dumps([_attendee(a) for a in attendees]).decode(),
        _dumps(_location(location)).decode() if location else None,
        None if locations is None else _dumps([_location(loc) for loc in locations]).decode(),
        None if recurrence is None else _dumps(recurrence).decode(),
        get("sensitivity"),
        get("isCancelled"),
        get("showAs"),
        get("onlineMeetingProvider"),
        bool(get("is_online_meeting")),
    )
