"""Graph's wire format for events: start/end pairs, the all-day rule, delta's trimmed items.

Internally an event keeps its true instants in `_s`/`_e` (aware UTC datetimes) and the zone
it was booked in in `_z`. On the wire:

- A timed event's `start`/`end` are dateTimeTimeZone pairs: the instant's wall time in the
  zone asked for with `Prefer: outlook.timezone` (UTC without it), seven fractional digits.
  https://learn.microsoft.com/en-us/graph/api/user-list-calendarview (Prefer header),
  https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone
- An all-day event (`isAllDay: true`) is a floating date range: midnight to midnight of its
  dates whatever zone is requested, labelled "UTC" without a Prefer header and with the
  requested zone's name with one. Its dates are those of the zone it was booked in, so a
  New York all-day event on 16 November comes back as 2026-11-16T00:00:00.0000000 to
  2026-11-17T00:00:00.0000000, never as 05:00 UTC.
  microsoft-graph-docs issue 1802 ("This is by design. All day events always return
  midnight-to-midnight regardless of time zone",
  https://github.com/microsoftgraph/microsoft-graph-docs/issues/1802), issue 16798
  (https://github.com/microsoftgraph/microsoft-graph-docs/issues/16798: midnight
  regardless of the Prefer zone, while filtering uses the stored instants), issue 6003
  (same times despite the timezone header), jasonjoh/php-calendar issue 9 (Microsoft's
  answer: midnight even with `Prefer: outlook.timezone="Eastern Standard Time"`),
  msgraph-sdk-javascript issue 1158 (the booking zone is lost on the wire).
- Creating an all-day event with non-midnight times moves the start back and the end
  forward to midnight in the request's zone ("Create all-day events by using EWS in
  Exchange", https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/how-to-create-all-day-events-by-using-ews-in-exchange).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .graphtime import IANA_TO_WINDOWS, WINDOWS_ZONES, graph_datetime, parse_iso


def floating(day: date, tzname: str) -> dict:
    """An all-day boundary on the wire: midnight of `day`, labelled with the requested zone."""
    return {"dateTime": f"{day.isoformat()}T00:00:00.0000000", "timeZone": tzname}


def wire_times(ev: dict, tz: tzinfo, tzname: str) -> tuple[dict, dict]:
    """The event's (start, end) dateTimeTimeZone pairs as Graph renders them."""
    if ev.get("isAllDay"):
        zone = ev.get("_z") or UTC
        return (
            floating(ev["_s"].astimezone(zone).date(), tzname),
            floating(ev["_e"].astimezone(zone).date(), tzname),
        )
    raw_tz = ev.get("_tz")  # a malformed event carrying a zone name Graph would not know
    if raw_tz:
        return (
            {"dateTime": graph_datetime(ev["_s"], UTC), "timeZone": raw_tz},
            {"dateTime": graph_datetime(ev["_e"], UTC), "timeZone": raw_tz},
        )
    return (
        {"dateTime": graph_datetime(ev["_s"], tz), "timeZone": tzname},
        {"dateTime": graph_datetime(ev["_e"], tz), "timeZone": tzname},
    )


def to_wire(ev: dict, tz: Any, tzname: str, fields: list[str] | None = None) -> dict:
    """Graph JSON for an internal event (all of it, or the `fields` of a $select)."""
    if fields is None:
        out = {k: v for k, v in ev.items() if k[0] != "_"}
    else:
        out = {k: ev[k] for k in fields if k in ev}
    if "start" in out or "end" in out:
        start, end = wire_times(ev, tz, tzname)
        if "start" in out:
            out["start"] = start
        if "end" in out:
            out["end"] = end
    return out


def delta_wire(ev: dict, tz: Any, tzname: str) -> dict:
    """Delta rendering: plain occurrences are trimmed like Graph, everything else is full.

    GRAPH_FACTS "Delta": occurrences may carry only id, type, seriesMasterId, start, end
    (https://learn.microsoft.com/en-us/graph/delta-query-events).
    """
    if ev["type"] == "occurrence" and not ev["isCancelled"]:
        start, end = wire_times(ev, tz, tzname)
        return {
            "@odata.type": "#microsoft.graph.event",
            "id": ev["id"],
            "type": "occurrence",
            "seriesMasterId": ev["seriesMasterId"],
            "start": start,
            "end": end,
        }
    return {"@odata.type": "#microsoft.graph.event", **to_wire(ev, tz, tzname)}


def zone_named(name: str | None) -> ZoneInfo:
    """ZoneInfo for an IANA or Windows zone name (None: UTC); ValueError if unknown."""
    iana = WINDOWS_ZONES.get(name or "UTC", name or "UTC")
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_event_time(value: Any) -> tuple[datetime, tzinfo]:
    """A datetime or Graph {dateTime, timeZone} as (aware UTC instant, zone it was given in).

    Naive datetimes are UTC.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC), UTC
        return value.astimezone(UTC), value.tzinfo
    zone = zone_named(value.get("timeZone"))
    wall = parse_iso(value["dateTime"]).replace(tzinfo=None)
    return wall.replace(tzinfo=zone).astimezone(UTC), zone


def zone_label(zone: tzinfo) -> str:
    """The Windows name Graph reports in originalStartTimeZone for a zone (else its name)."""
    name = getattr(zone, "key", None) or zone.tzname(None) or "UTC"
    return IANA_TO_WINDOWS.get(name, name)


def snap_all_day(start: datetime, end: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """Midnight-align an all-day range in `zone` the way Exchange does (start down, end up)."""
    s_local, e_local = start.astimezone(zone), end.astimezone(zone)
    first = s_local.date()
    last = e_local.date() if e_local.time() == time() else e_local.date() + timedelta(days=1)
    if last <= first:
        last = first + timedelta(days=1)
    return (
        datetime.combine(first, time(), tzinfo=zone).astimezone(UTC),
        datetime.combine(last, time(), tzinfo=zone).astimezone(UTC),
    )
