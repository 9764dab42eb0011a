"""The versioned change store behind mutations and delta, and the view's calendar geometry.

Untouched rooms are generated on demand (`generator.py`); the first mutation of a room
materializes its calendar here, and every mutation appends to the change log that an
incremental delta round reads (`changes_since`, `current`).

Both sources index events the same way, which is what lets calendarView find every event
that overlaps a window, including those that started before it (GRAPH_FACTS "Events and
time"; https://learn.microsoft.com/en-us/graph/api/user-list-calendarview):

- an event is filed under the local date (room's zone) of its start;
- a *short* event ends before local midnight of its start date + SHORT_SPAN_DAYS, so a view
  only needs to look that many days back;
- longer events (multi-week blocks) are also kept in a per-room list that a view scans
  whole; rooms have a handful of them.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from .graphtime import graph_stamp

CANARY_PREFIX = "ZZCANARY"
SHORT_SPAN_DAYS = 4


def overlaps(ev: dict, start: datetime, end: datetime) -> bool:
    """calendarView's overlap rule on the event's true instants.

    An event is in [start, end) when it starts before `end` and ends after `start`; a
    zero-length event when start <= its instant < end. Tolerant of malformed events
    whose end is before their start.
    """
    lo, hi = ev["_s"], ev["_e"]
    if hi < lo:
        lo, hi = hi, lo
    if lo == hi:
        return start <= lo < end
    return lo < end and hi > start


def local_day(ev: dict, zone: ZoneInfo) -> date:
    """The local date (room's zone) an event is filed under: that of its start."""
    return ev["_s"].astimezone(zone).date()


def is_long(ev: dict, zone: ZoneInfo) -> bool:
    """True when the event reaches past the view's scan-back (SHORT_SPAN_DAYS)."""
    hi = max(ev["_s"], ev["_e"])
    return (hi.astimezone(zone).date() - local_day(ev, zone)).days >= SHORT_SPAN_DAYS


def _order(ev: dict) -> tuple[datetime, str]:
    return ev["_s"], ev["id"]


class RoomCalendar:
    """Materialized calendar of one mutated room, indexed by local start date."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.days: dict[date, list[dict]] = {}
        self.long: list[dict] = []

    def place(self, ev: dict) -> None:
        lst = self.days.setdefault(local_day(ev, self.zone), [])
        lst.append(ev)
        lst.sort(key=_order)
        if is_long(ev, self.zone):
            self.long.append(ev)
            self.long.sort(key=_order)

    def remove(self, ev: dict) -> None:
        """Take an event out (call before changing its start)."""
        day = local_day(ev, self.zone)
        self.days[day] = [e for e in self.days.get(day, ()) if e is not ev]
        self.long = [e for e in self.long if e is not ev]

    def find(self, event_id: str) -> dict:
        for evs in self.days.values():
            for ev in evs:
                if ev["id"] == event_id:
                    return ev
        raise KeyError(event_id)

    def events(self) -> Iterable[dict]:
        for evs in self.days.values():
            yield from evs


@dataclass
class Change:
    version: int
    email: str
    event_id: str


class ChangeStore:
    """Materialized rooms plus the tenant-wide, versioned change log read by delta."""

    def __init__(self, canaries: bool) -> None:
        self.canaries = canaries
        self.version = 0
        self.changes: list[Change] = []
        self.rooms: dict[str, RoomCalendar] = {}
        self.lock = threading.RLock()

    def calendar(self, email: str) -> RoomCalendar | None:
        return self.rooms.get(email)

    def materialize(self, email: str, zone: ZoneInfo, events: Iterable[dict]) -> RoomCalendar:
        """The room's calendar, filled from `events` the first time (call under `lock`)."""
        cal = self.rooms.get(email)
        if cal is None:
            cal = RoomCalendar(zone)
            for ev in events:
                cal.place(ev)
            self.rooms[email] = cal
        return cal

    def record(self, email: str, event_id: str, ev: dict | None) -> None:
        """Log a change (ev None: deleted) and give a surviving event a new changeKey."""
        self.version += 1
        self.changes.append(Change(self.version, email.lower(), event_id))
        if ev is not None:
            ck = (
                f"{CANARY_PREFIX}-changeKey-v{self.version}"
                if self.canaries
                else base64.b64encode(f"v{self.version}:{event_id[-8:]}".encode()).decode()
            )
            ev["changeKey"], ev["@odata.etag"] = ck, f'W/"{ck}"'
            ev["lastModifiedDateTime"] = graph_stamp(datetime.now(UTC))

    def changes_since(self, email: str, version: int, upto: int | None = None) -> list[str]:
        """Ids changed on a room in (version, upto], oldest first, each once."""
        email = email.lower()
        with self.lock:
            seen: dict[str, None] = {}
            for ch in self.changes:
                in_range = version < ch.version and (upto is None or ch.version <= upto)
                if in_range and ch.email == email:
                    seen.pop(ch.event_id, None)
                    seen[ch.event_id] = None
            return list(seen)

    def current(self, email: str, event_id: str) -> list[dict]:
        """Current state of an event id on a materialized room (several if duplicated)."""
        cal = self.rooms.get(email)
        if cal is None:
            return []
        with self.lock:
            return [e for e in cal.events() if e["id"] == event_id]
