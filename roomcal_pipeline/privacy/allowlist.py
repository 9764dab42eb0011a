"""The one allowlist of event attributes roomcal keeps (docs/privacy.md).

Everything not named here is dropped the moment a Graph page is parsed, before
an event is written, logged, counted in metadata or put into an error message.
The filter copies named keys into a new dict (it never deletes from Graph's),
checks every kept value's type, and walks nested objects with their own
allowlists, so an unknown key inside `organizer` or `location` is dropped too.
Graph's calendarView delta ignores `$select`, so this code, not the request, is
the guarantee.
"""

from __future__ import annotations

from typing import Any

# Top-level attributes whose values are plain scalars (str, bool, number or null).
_SCALAR_FIELDS = (
    "id",
    "iCalUId",
    "seriesMasterId",
    "type",
    "isAllDay",
    "createdDateTime",
    "lastModifiedDateTime",
    "sensitivity",
    "isCancelled",
    "showAs",
    "onlineMeetingProvider",
)
_DATETIME_PAIR_FIELDS = ("start", "end")
_EMAIL_ADDRESS_KEYS = ("name", "address")
_LOCATION_KEYS = ("displayName", "locationEmailAddress", "locationType")
_RECURRENCE_PATTERN_KEYS = (
    "type",
    "interval",
    "month",
    "dayOfMonth",
    "daysOfWeek",
    "firstDayOfWeek",
    "index",
)
_RECURRENCE_RANGE_KEYS = (
    "type",
    "startDate",
    "endDate",
    "recurrenceTimeZone",
    "numberOfOccurrences",
)

# What a filtered event may contain; `is_online_meeting` is derived, `@removed`
# marks a deletion in a delta page.
STORED_EVENT_FIELDS = frozenset(
    (
        *_SCALAR_FIELDS,
        *_DATETIME_PAIR_FIELDS,
        "organizer",
        "attendees",
        "location",
        "locations",
        "recurrence",
        "is_online_meeting",
        "@removed",
    )
)

# Named in `$select` where Graph honours it. The three online-meeting fields are
# requested only so that `is_online_meeting` can be derived; their values are
# never kept.
GRAPH_SELECT_FIELDS = (
    *_SCALAR_FIELDS,
    *_DATETIME_PAIR_FIELDS,
    "organizer",
    "attendees",
    "location",
    "locations",
    "recurrence",
    "isOnlineMeeting",
    "onlineMeeting",
    "onlineMeetingUrl",
)

_SCALAR_TYPES = (str, bool, int, float, type(None))
# The exact types orjson produces: one set lookup instead of an isinstance call per value.
# Anything else (a subclass, a dict, a list) takes the isinstance path, so the result is
# the same as `isinstance(value, _SCALAR_TYPES)` for every input.
_EXACT_SCALAR_TYPES = frozenset(_SCALAR_TYPES)
_MISSING = object()

# This module runs once per event and per attendee, so the functions below are written
# for speed: keys are looked up once with .get and a sentinel, and the nested objects
# have their own small functions instead of a generic picker.


def _scalar(value: Any) -> Any:
    return value if isinstance(value, _SCALAR_TYPES) else None


def _pick(obj: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    out = {}
    for k in keys:
        v = obj.get(k, _MISSING)
        if v is not _MISSING:
            out[k] = v if type(v) in _EXACT_SCALAR_TYPES else _scalar(v)
    return out


def _email_fields(obj: Any) -> dict[str, Any] | None:
    """`_pick(obj, _EMAIL_ADDRESS_KEYS)`, unrolled: it runs for every attendee."""
    if type(obj) is not dict and not isinstance(obj, dict):
        return None
    out = {}
    v = obj.get("name", _MISSING)
    if v is not _MISSING:
        out["name"] = v if type(v) in _EXACT_SCALAR_TYPES else _scalar(v)
    v = obj.get("address", _MISSING)
    if v is not _MISSING:
        out["address"] = v if type(v) in _EXACT_SCALAR_TYPES else _scalar(v)
    return out


def _email_address(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    return {"emailAddress": _email_fields(obj.get("emailAddress"))}


def _attendee(obj: Any) -> dict[str, Any] | None:
    if type(obj) is not dict and not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    status = obj.get("status")
    if type(status) is dict or isinstance(status, dict):
        response = status.get("response")
        status = {
            "response": response if type(response) in _EXACT_SCALAR_TYPES else _scalar(response)
        }
    else:
        status = None
    return {
        "type": kind if type(kind) in _EXACT_SCALAR_TYPES else _scalar(kind),
        "status": status,
        "emailAddress": _email_fields(obj.get("emailAddress")),
    }


def _recurrence(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    pattern = obj.get("pattern")
    out: dict[str, Any] = {
        "pattern": None,
        "range": _pick(obj.get("range"), _RECURRENCE_RANGE_KEYS),
    }
    if isinstance(pattern, dict):
        out["pattern"] = {
            k: (
                [d for d in pattern[k] if isinstance(d, str)]
                if k == "daysOfWeek" and isinstance(pattern[k], list)
                else _scalar(pattern[k])
            )
            for k in _RECURRENCE_PATTERN_KEYS
            if k in pattern
        }
    return out


def _is_online_meeting(event: dict[str, Any]) -> bool:
    if event.get("isOnlineMeeting") is True:
        return True
    online = event.get("onlineMeeting")
    if isinstance(online, dict) and online.get("joinUrl"):
        return True
    return bool(event.get("onlineMeetingUrl"))


def filter_event(event: dict[str, Any]) -> dict[str, Any]:
    """Return a new dict holding only the allowlisted attributes of one Graph event."""
    get = event.get
    out: dict[str, Any] = {}
    for key in _SCALAR_FIELDS:
        v = get(key, _MISSING)
        if v is not _MISSING:
            out[key] = v if type(v) in _EXACT_SCALAR_TYPES else _scalar(v)
    for key in _DATETIME_PAIR_FIELDS:
        v = get(key, _MISSING)
        if v is not _MISSING:
            out[key] = _pick(v, ("dateTime", "timeZone"))
    v = get("organizer", _MISSING)
    if v is not _MISSING:
        out["organizer"] = _email_address(v)
    v = get("attendees", _MISSING)
    if v is not _MISSING:
        out["attendees"] = [_attendee(a) for a in v] if isinstance(v, list) else None
    v = get("location", _MISSING)
    if v is not _MISSING:
        out["location"] = _pick(v, _LOCATION_KEYS)
    v = get("locations", _MISSING)
    if v is not _MISSING:
        out["locations"] = (
            [_pick(loc, _LOCATION_KEYS) for loc in v] if isinstance(v, list) else None
        )
    v = get("recurrence", _MISSING)
    if v is not _MISSING:
        out["recurrence"] = _recurrence(v)
    removed = get("@removed")
    if removed is not None:
        out["@removed"] = _pick(removed, ("reason",)) or {}
    out["is_online_meeting"] = _is_online_meeting(event)
    return out
