"""An independent, pure-Python computation of every docs/marts.md mart.

This module is the integration tests' oracle: it computes the marts from ground truth (the Graph
JSON events a simulated tenant serves, and its directory) without SQL and without sharing code
with the dbt models or the pipeline, following the docs/metrics.md definitions literally.

Conventions (the same choices the dbt models document):

- A room is *synced* when its email is a key of ``events_by_room`` (an empty list is a synced room
  without events). Synced rooms are covered on every local date in ``[start, end)``.
- Emails and addresses are compared and returned lower-cased.
- Local time: each room's IANA zone. A local wall time that does not exist (spring forward) or is
  ambiguous (fall back) is resolved like PostgreSQL's ``timestamp AT TIME ZONE``: the later of the
  two UTC instants.
- ``fct_room_bookings``: bookings whose start falls on a local date in ``[start, end)``.
- A booking is *on* every local date it overlaps (``[start, end)``; a zero-length booking is on its
  start date). ``organizer_group_usage``, ``adhoc_vs_planned`` and ``recurrence_summary`` count a
  booking on every such date (weeks: once per ISO week) and sum its minutes inside that date's
  business window (overlapping bookings each count). Rows only where there are bookings.
- ``room_booking_rate_daily``: every business day of every synced room; booked minutes are the
  union of the bookings clipped to the window; ``bookings`` = bookings with time in the window.
- ``room_popularity_weekly``: per room and ISO week with at least one business day in range; rate
  = sum of booked minutes / sum of business minutes; rank 1 = highest rate, then booked minutes
  (desc), then email. ``bookings`` = distinct bookings on the week's dates in range.
- ``room_sync_status``: ``events_synced`` = the number of events given for the room.

Minutes are floats; timestamps are aware UTC datetimes; dates are ``datetime.date``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

try:  # Graph may send Windows zone names; tzlocal (a roomcal dependency) maps them to IANA.
    from tzlocal.windows_tz import win_tz as _WINDOWS_ZONES
except ImportError:  # pragma: no cover
    _WINDOWS_ZONES = {}

NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
ERROR = "ERROR"

MART_NAMES = (
    "fct_room_bookings",
    "room_booking_rate_daily",
    "organizer_group_usage",
    "recurrence_summary",
    "adhoc_vs_planned",
    "room_popularity_weekly",
    "dim_rooms",
    "room_sync_status",
)

_UTC_NAMES = {"UTC", "Etc/UTC", "GMT", "Z", "Coordinated Universal Time", "tzone://Microsoft/Utc"}
_FRACTION = re.compile(r"\.(\d+)")
_ONE_DAY = timedelta(days=1)


# --------------------------------------------------------------------------- time


def _zone(name: str | None) -> ZoneInfo:
    if not name or name in _UTC_NAMES:
        return ZoneInfo("UTC")
    return ZoneInfo(_WINDOWS_ZONES.get(name, name))


def _parse_iso(text: str) -> datetime:
    text = text.strip().replace("Z", "+00:00")
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    return datetime.fromisoformat(text)


def graph_datetime(pair: Mapping[str, Any]) -> datetime:
    """A Graph ``dateTimeTimeZone`` ({dateTime, timeZone}) as an aware UTC datetime."""
    value = _parse_iso(pair["dateTime"])
    if value.tzinfo is None:
        value = value.replace(tzinfo=_zone(pair.get("timeZone")))
    return value.astimezone(UTC)


def graph_timestamp(text: str | None) -> datetime | None:
    """A Graph ``DateTimeOffset`` string (e.g. createdDateTime) as aware UTC, None when absent."""
    if not text:
        return None
    value = _parse_iso(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """UTC instant of local wall time ``minutes`` after midnight of ``day`` (PostgreSQL rules)."""
    wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
    candidates = [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    return max(candidates)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def _dates(start: date, end: date) -> Iterable[date]:
    day = start
    while day < end:
        yield day
        day += _ONE_DAY


def week_start(day: date) -> date:
    return day - timedelta(days=day.isoweekday() - 1)


# --------------------------------------------------------------------------- rooms


def _business_days(value: Any) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {int(part) for part in re.findall(r"\d+", value)}
    return {int(part) for part in value}


class _Room:
    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        email = row.get("room_email")
        self.email = email.strip().lower() if isinstance(email, str) and email.strip() else None
        self.key = row.get("room_key") or (self.email or f"noemail:{row.get('room_name')}")
        self.zone = _zone(row.get("timezone"))
        self.open = int(row["business_open_minute"])
        self.close = int(row["business_close_minute"])
        self.days = _business_days(row.get("business_days"))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        if day.isoweekday() not in self.days or self.close <= self.open:
            return None
        return local_instant(day, self.open, self.zone), local_instant(day, self.close, self.zone)


# --------------------------------------------------------------------------- bookings


def organizer_group(address: str | None, directory: Mapping[str, Any]) -> str:
    """docs/metrics.md: department; unassigned; external on 404; the email domain when unreadable."""
    address = address.strip().lower() if address else None
    if not address:
        return "unknown"
    lowered = {str(k).strip().lower(): v for k, v in directory.items()}
    domain = address.split("@", 1)[1] if "@" in address else ""
    if address not in lowered:
        return domain or "unknown"
    answer = lowered[address]
    if answer is None:
        return "unassigned"
    if isinstance(answer, str):
        if answer == NOT_FOUND:
            return "external"
        if answer in (FORBIDDEN, ERROR):
            return domain or "unknown"
        return answer.strip() or "unassigned"
    return domain or "unknown"  # an exception (or anything else): the directory could not be read


def attendee_count(event: Mapping[str, Any]) -> int:
    people = [
        a for a in (event.get("attendees") or []) if str(a.get("type") or "").lower() != "resource"
    ]
    addresses = {
        str(((a.get("emailAddress") or {}).get("address")) or a.get("address") or "")
        .strip()
        .lower()
        for a in people
    }
    organizer = ((event.get("organizer") or {}).get("emailAddress") or {}).get("address") or ""
    organizer = organizer.strip().lower()
    return len(people) + (1 if organizer and organizer not in addresses else 0)


def is_booking(event: Mapping[str, Any]) -> bool:
    return (
        not event.get("isCancelled")
        and str(event.get("showAs") or "").lower() != "free"
        and str(event.get("type") or "").lower() != "seriesmaster"
    )


def is_online(event: Mapping[str, Any]) -> bool:
    meeting = event.get("onlineMeeting") or {}
    return bool(
        event.get("isOnlineMeeting") or meeting.get("joinUrl") or event.get("onlineMeetingUrl")
    )


def floating_date(pair: Mapping[str, Any], zone: ZoneInfo) -> datetime:
    """An all-day bound: the wall date Graph gives, at midnight in the room's zone (docs/metrics.md:
    all-day events are floating dates; Graph's timeZone beside them is not their zone)."""
    day = date.fromisoformat(pair["dateTime"][:10])
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def event_interval(event: Mapping[str, Any], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants an event occupies on a room calendar in ``zone``."""
    if event.get("isAllDay"):
        return floating_date(event["start"], zone), floating_date(event["end"], zone)
    return graph_datetime(event["start"]), graph_datetime(event["end"])


def _booking(room: _Room, event: Mapping[str, Any], directory, adhoc_max: float) -> dict[str, Any]:
    start_at, end_at = event_interval(event, room.zone)
    created_at = graph_timestamp(event.get("createdDateTime"))
    lead = _minutes(start_at - created_at) if created_at is not None else None
    series_id = event.get("seriesMasterId") or None
    organizer = ((event.get("organizer") or {}).get("emailAddress") or {}).get("address")
    return {
        "room_email": room.email,
        "event_id": event["id"],
        "booking_date": local_date(start_at, room.zone),
        "start_at": start_at,
        "end_at": end_at,
        "created_at": created_at,
        "lead_time_minutes": lead,
        "booking_type": "ad_hoc" if lead is not None and lead <= adhoc_max else "planned",
        "is_recurring": str(event.get("type") or "").lower() in ("occurrence", "exception")
        or series_id is not None,
        "series_id": series_id,
        "organizer_group": organizer_group(organizer, directory),
        "attendee_count": attendee_count(event),
        "is_online_meeting": is_online(event),
        "sensitivity": event.get("sensitivity"),
        "is_all_day": bool(event.get("isAllDay")),
        "duration_minutes": max(_minutes(end_at - start_at), 0.0),
    }


def _days_of(booking: Mapping[str, Any], zone: ZoneInfo) -> list[date]:
    """The local dates a booking overlaps ([start, end)); a zero-length one: its start date."""
    first = local_date(booking["start_at"], zone)
    if booking["end_at"] <= booking["start_at"]:
        return [first]
    last = local_date(booking["end_at"] - timedelta(microseconds=1), zone)
    return list(_dates(first, last + _ONE_DAY))


def _clip(booking, window) -> tuple[datetime, datetime] | None:
    if window is None or booking["end_at"] <= booking["start_at"]:
        return None
    lo, hi = max(booking["start_at"], window[0]), min(booking["end_at"], window[1])
    return (lo, hi) if hi > lo else None


def union_minutes(intervals: Iterable[tuple[datetime, datetime]]) -> float:
    """Length in minutes of the union of [start, end) intervals."""
    total = 0.0
    current: list[datetime] | None = None
    for lo, hi in sorted(intervals):
        if current is None or lo > current[1]:
            if current is not None:
                total += _minutes(current[1] - current[0])
            current = [lo, hi]
        else:
            current[1] = max(current[1], hi)
    if current is not None:
        total += _minutes(current[1] - current[0])
    return total


# --------------------------------------------------------------------------- marts


def compute_marts(
    rooms: list[dict],
    events_by_room: dict[str, list[dict]],
    directory: dict[str, Any],
    start: date,
    end: date,
    adhoc_max_lead_minutes: float = 30,
    failures: Mapping[str, str] | None = None,
) -> dict[str, list[dict]]:
    """Every mart's rows for local dates in [start, end).

    rooms: raw.rooms rows (room_key, room_email, room_name, building, floor, capacity, timezone,
    business_open_minute, business_close_minute, business_days). events_by_room: room email ->
    the Graph JSON events of its calendar (synced rooms only). directory: organizer address ->
    department, None (no department), "NOT_FOUND", "FORBIDDEN" (or "ERROR"/an exception).
    failures: optional room email -> not_synced reason code, for room_sync_status.
    """
    events = {email.strip().lower(): list(evs) for email, evs in events_by_room.items()}
    failures = {k.strip().lower(): v for k, v in (failures or {}).items()}
    all_rooms = [_Room(row) for row in rooms]
    synced = [room for room in all_rooms if room.email is not None and room.email in events]
    in_range = set(_dates(start, end))

    fct: list[dict] = []
    rate_daily: list[dict] = []
    usage: dict[tuple, dict] = {}
    adhoc: dict[tuple, dict] = {}
    weekly_days: dict[tuple, list[tuple[dict, float]]] = defaultdict(list)
    popularity_input: dict[tuple, dict] = {}

    for room in synced:
        bookings_by_id: dict[str, dict] = {}
        for event in events[room.email]:
            if is_booking(event):
                bookings_by_id[event["id"]] = _booking(
                    room, event, directory, adhoc_max_lead_minutes
                )
        bookings = list(bookings_by_id.values())
        # docs/metrics.md: a booking is in the fact table when it overlaps a date of the range,
        # wherever it starts.
        fct.extend(b for b in bookings if in_range.intersection(_days_of(b, room.zone)))

        per_day: dict[date, list[tuple[dict, float, tuple | None]]] = defaultdict(list)
        for booking in bookings:
            for day in _days_of(booking, room.zone):
                if day not in in_range:
                    continue
                clipped = _clip(booking, room.window(day))
                minutes = _minutes(clipped[1] - clipped[0]) if clipped else 0.0
                per_day[day].append((booking, minutes, clipped))

        for day in sorted(in_range):
            window = room.window(day)
            entries = per_day.get(day, [])
            for booking, minutes, _ in entries:
                u = usage.setdefault(
                    (booking["organizer_group"], room.email, day),
                    {
                        "organizer_group": booking["organizer_group"],
                        "room_email": room.email,
                        "booking_date": day,
                        "bookings": 0,
                        "booked_minutes": 0.0,
                    },
                )
                u["bookings"] += 1
                u["booked_minutes"] += minutes
                a = adhoc.setdefault(
                    (room.email, day),
                    {
                        "room_email": room.email,
                        "booking_date": day,
                        "ad_hoc_bookings": 0,
                        "planned_bookings": 0,
                        "ad_hoc_minutes": 0.0,
                        "planned_minutes": 0.0,
                    },
                )
                kind = "ad_hoc" if booking["booking_type"] == "ad_hoc" else "planned"
                a[f"{kind}_bookings"] += 1
                a[f"{kind}_minutes"] += minutes
                weekly_days[(room.email, week_start(day))].append((booking, minutes))
            if window is None:
                continue
            business = _minutes(window[1] - window[0])
            booked = union_minutes(c for _, _, c in entries if c is not None)
            rate_daily.append(
                {
                    "room_email": room.email,
                    "booking_date": day,
                    "business_minutes": business,
                    "booked_minutes": booked,
                    "booking_rate": booked / business,
                    "bookings": sum(1 for _, _, c in entries if c is not None),
                }
            )
            p = popularity_input.setdefault(
                (room.email, week_start(day)),
                {
                    "room_email": room.email,
                    "week_start": week_start(day),
                    "business_minutes": 0.0,
                    "booked_minutes": 0.0,
                },
            )
            p["business_minutes"] += business
            p["booked_minutes"] += booked

    recurrence = []
    for (email, week), entries in sorted(weekly_days.items()):
        recurring = {b["event_id"] for b, _ in entries if b["is_recurring"]}
        single = {b["event_id"] for b, _ in entries if not b["is_recurring"]}
        recurrence.append(
            {
                "room_email": email,
                "week_start": week,
                "recurring_bookings": len(recurring),
                "single_bookings": len(single),
                "recurring_minutes": sum(m for b, m in entries if b["is_recurring"]),
                "single_minutes": sum(m for b, m in entries if not b["is_recurring"]),
                "active_series": len(
                    {
                        b["series_id"]
                        for b, _ in entries
                        if b["is_recurring"] and b["series_id"] is not None
                    }
                ),
            }
        )

    popularity = []
    by_week: dict[date, list[dict]] = defaultdict(list)
    for (email, week), p in popularity_input.items():
        row = dict(p)
        row["booking_rate"] = p["booked_minutes"] / p["business_minutes"]
        row["bookings"] = len({b["event_id"] for b, _ in weekly_days.get((email, week), [])})
        by_week[week].append(row)
    for week in sorted(by_week):
        ranked = sorted(
            by_week[week], key=lambda r: (-r["booking_rate"], -r["booked_minutes"], r["room_email"])
        )
        for rank, row in enumerate(ranked, start=1):
            row["popularity_rank"] = rank
            popularity.append(row)

    dim_rooms = [
        {
            "room_email": room.email,
            "room_name": room.row.get("room_name"),
            "building": room.row.get("building"),
            "floor": room.row.get("floor"),
            "capacity": room.row.get("capacity"),
            "timezone": room.row.get("timezone"),
            "room_key": room.key,
        }
        for room in all_rooms
    ]

    sync_status = []
    for room in all_rooms:
        if room.email is None:
            status, reason, count = "not_synced", "no_email", None
        elif room.email in events:
            status, reason, count = "synced", None, len(events[room.email])
        else:
            status, reason, count = "not_synced", failures.get(room.email), None
        sync_status.append(
            {
                "room_email": room.email,
                "room_name": room.row.get("room_name"),
                "status": status,
                "reason": reason,
                "events_synced": count,
                "room_key": room.key,
            }
        )

    key = lambda *cols: lambda r: tuple((r[c] is None, r[c]) for c in cols)  # noqa: E731
    return {
        "fct_room_bookings": sorted(fct, key=key("room_email", "event_id")),
        "room_booking_rate_daily": sorted(rate_daily, key=key("room_email", "booking_date")),
        "organizer_group_usage": sorted(
            usage.values(), key=key("organizer_group", "room_email", "booking_date")
        ),
        "recurrence_summary": recurrence,
        "adhoc_vs_planned": sorted(adhoc.values(), key=key("room_email", "booking_date")),
        "room_popularity_weekly": sorted(popularity, key=key("week_start", "popularity_rank")),
        "dim_rooms": sorted(dim_rooms, key=key("room_key")),
        "room_sync_status": sorted(sync_status, key=key("room_key")),
    }
