"""A synthetic Microsoft 365 organisation whose room calendars are generated lazily.

The tenant ties together the organisation (org.py), its generated calendars
(generator.py), the versioned change store of mutated rooms (store.py) and Graph's wire
rendering (wire.py). Events are a pure function of (seed, today, room, local day), so a
tenant with thousands of rooms costs almost no memory; only rooms that tests mutate are
materialized.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .generator import CalendarGenerator
from .graphtime import parse_iso
from .org import BUILDINGS, DOMAIN, FAILURES, Organisation, SimRoom, SimUser
from .store import (
    CANARY_PREFIX,
    SHORT_SPAN_DAYS,
    ChangeStore,
    RoomCalendar,
    local_day,
    overlaps,
)
from .wire import delta_wire, parse_event_time, snap_all_day, to_wire, zone_label

__all__ = [
    "BUILDINGS",
    "CANARY_PREFIX",
    "DOMAIN",
    "FAILURES",
    "SimRoom",
    "SimUser",
    "SimulatedTenant",
    "delta_wire",
    "to_wire",
]


def _by_start(ev: dict) -> tuple[datetime, str]:
    return ev["_s"], ev["id"]


class SimulatedTenant:
    """Deterministic synthetic organisation: rooms, people and lazily generated calendars."""

    def __init__(
        self,
        seed: int = 42,
        rooms_per_building: int = 3,
        bookings_per_day: int = 8,
        canaries: bool = False,
        history_days: int = 120,
        future_days: int = 60,
        today: date | None = None,
        people: int = 48,
    ) -> None:
        self.seed = seed
        self.bookings_per_day = bookings_per_day
        self.canaries = canaries
        self.today = today or datetime.now(UTC).date()
        self.first_day = self.today - timedelta(days=history_days)
        self.last_day = self.today + timedelta(days=future_days)
        self.org = Organisation(seed, rooms_per_building, people)
        self.generator = CalendarGenerator(
            self.org,
            seed=seed,
            bookings_per_day=bookings_per_day,
            canaries=canaries,
            today=self.today,
            first_day=self.first_day,
            last_day=self.last_day,
        )
        self.store = ChangeStore(canaries)

    # ----------------------------------------------------------------- directory
    @property
    def rooms(self) -> list[SimRoom]:
        return self.org.rooms

    @property
    def users(self) -> list[SimUser]:
        return self.org.users

    @property
    def externals(self) -> list[SimUser]:
        return self.org.externals

    @property
    def version(self) -> int:
        """Tenant-wide change counter (delta tokens remember it)."""
        return self.store.version

    def room(self, email: str | None) -> SimRoom | None:
        """Room by (case-insensitive) email, or None."""
        return self.org.room(email)

    def user(self, address: str) -> SimUser | None:
        """Directory user by address, or None (rooms are users without a department)."""
        return self.org.user(address)

    def department(self, address: str) -> str | None:
        """The organizer's department; KeyError for addresses outside the directory."""
        return self.org.department(address)

    def set_department(self, address: str, department: str | None) -> SimUser:
        """Move a person to another department; the directory answers with it from now on."""
        return self.org.set_department(address, department)

    def registry_csv(self) -> str:
        """The room registry (docs/configuration.md) listing every room with in_registry."""
        return self.org.registry_csv()

    def set_room_failure(self, email: str, failure: str | None) -> None:
        """Force (or clear) a mailbox failure at runtime."""
        with self.store.lock:
            self.org.set_room_failure(email, failure)

    def zone(self, room: SimRoom) -> ZoneInfo:
        """Cached ZoneInfo of a room."""
        return self.org.zone(room)

    # ------------------------------------------------------------------ queries
    def day_events(self, room: SimRoom, day: date, *, spanning_only: bool = False) -> list[dict]:
        """Internal events starting on local `day`, sorted by start then id (with
        `spanning_only`, an untouched room may leave out bookings that end that day)."""
        cal = self.store.calendar(room.email)  # type: ignore[arg-type]
        if cal is None:
            return self.generator.day(room, day, spanning_only=spanning_only)
        with self.store.lock:
            return list(cal.days.get(day, ()))

    def _long_before(self, room: SimRoom, day: date, start: datetime, end: datetime) -> list[dict]:
        """Events starting before local `day` too long for the view's scan-back."""
        cal = self.store.calendar(room.email)  # type: ignore[arg-type]
        if cal is None:
            return self.generator.long_before(room, day, start, end)
        with self.store.lock:
            return [e for e in cal.long if local_day(e, cal.zone) < day and overlaps(e, start, end)]

    def view_page(
        self,
        room: SimRoom,
        start: datetime,
        end: datetime,
        cursor: tuple[int, int] | None,
        limit: int,
    ) -> tuple[list[dict], tuple[int, int] | None]:
        """Up to `limit` events overlapping [start, end) from `cursor` (day ordinal, index).

        Like calendarView, every event that overlaps the window comes back, including those
        that started before it (GRAPH_FACTS "Events and time";
        https://learn.microsoft.com/en-us/graph/api/user-list-calendarview). Events are
        filed by local start date: the view walks from SHORT_SPAN_DAYS before the window's
        first local date (the longest a per-day event lasts), after a first pseudo-day
        holding the room's long blocks that started even earlier. The order is by start.
        """
        tz = self.zone(room)
        d0, d1 = start.astimezone(tz).date(), end.astimezone(tz).date()
        scan0 = (d0 - timedelta(days=SHORT_SPAN_DAYS)).toordinal()
        day, idx = cursor or (scan0 - 1, 0)
        out: list[dict] = []
        while day <= d1.toordinal():
            if day < scan0:
                evs = self._long_before(room, date.fromordinal(scan0), start, end)
                evs.sort(key=_by_start)
            else:
                # Ordinary bookings end the day they start; before d0-1 only longer ones count.
                spanning_only = day < d0.toordinal() - 1
                evs = [
                    e
                    for e in self.day_events(
                        room, date.fromordinal(day), spanning_only=spanning_only
                    )
                    if overlaps(e, start, end)
                ]
            while idx < len(evs):
                if len(out) >= limit:
                    return out, (day, idx)
                out.append(evs[idx])
                idx += 1
            day, idx = day + 1, 0
        return out, None

    def masters(self, room: SimRoom, start: datetime, end: datetime) -> list[dict]:
        """Series masters with instances that can fall in the window (for delta)."""
        tz = self.zone(room)
        d0, d1 = start.astimezone(tz).date() - timedelta(days=1), end.astimezone(tz).date()
        return self.generator.masters(room, d0, d1)

    def calendar_view(self, email: str, start: datetime | str, end: datetime | str) -> list[dict]:
        """Ground truth: full Graph events overlapping [start, end), rendered like calendarView
        without a Prefer header (timed events in UTC, all-day events as floating dates)."""
        room = self.org.require(email)
        start, end = (
            parse_iso(x) if isinstance(x, str) else x.astimezone(UTC) for x in (start, end)
        )
        events, _ = self.view_page(room, start, end, None, 1 << 62)
        return [to_wire(e, UTC, "UTC") for e in events]

    def changes_since(self, email: str, version: int, upto: int | None = None) -> list[str]:
        """Ids changed on a room in (version, upto], oldest first, each once."""
        return self.store.changes_since(email, version, upto)

    def current(self, room: SimRoom, event_id: str) -> list[dict]:
        """Current state of an event id on a mutated room (several if the id is duplicated)."""
        return self.store.current(room.email, event_id)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- mutations
    def _materialize(self, room: SimRoom) -> RoomCalendar:
        """The room's calendar as a mutable store (generated in full the first time)."""
        gen = self.generator

        def everything():
            day = self.first_day - timedelta(days=1)
            while day <= self.last_day:
                yield from gen.generate_day(room, day)
                day += timedelta(days=1)
            yield from gen.long_events(room)

        return self.store.materialize(room.email, self.zone(room), everything())  # type: ignore[arg-type]

    def _record(self, room: SimRoom, event_id: str, ev: dict | None) -> None:
        self.store.record(room.email, event_id, ev)  # type: ignore[arg-type]

    def add_event(self, email: str, event: dict) -> str:
        """Add a single-instance event given Graph-style JSON; returns its id.

        `start`/`end` are {dateTime, timeZone} pairs (IANA or Windows zone names) or aware
        datetimes; every other Graph field given overrides the generated one. With
        `"isAllDay": True` the range is midnight-aligned in the zone it is given in (start
        back, end forward, as Exchange does), and that zone's dates are what the wire shows.
        """
        room = self.org.require(email)
        with self.store.lock:
            cal = self._materialize(room)
            (start, zone), (end, _) = (parse_event_time(event[k]) for k in ("start", "end"))
            all_day = bool(event.get("isAllDay"))
            if all_day:
                start, end = snap_all_day(start, end, zone)
            key = f"{self.seed}|{room.email}|added|{self.version + 1}"
            ev = self.generator.build(
                [room],
                key=key,
                rng=random.Random(key),
                etype="singleInstance",
                start=start,
                end=end,
                created=datetime.now(UTC),
                all_day=all_day,
            )
            for k, v in event.items():
                if k not in ("start", "end"):
                    ev[k] = v
            ev["_s"], ev["_e"], ev["_z"] = start, end, zone
            ev["originalStartTimeZone"] = ev["originalEndTimeZone"] = zone_label(zone)
            cal.place(ev)
            self._record(room, ev["id"], ev)
            return ev["id"]

    def add_all_day(self, email: str, first_date: date, days: int = 1) -> str:
        """Add an all-day event on the room's local dates first_date .. first_date+days-1."""
        room = self.org.require(email)
        last = first_date + timedelta(days=days)
        return self.add_event(
            email,
            {
                "start": {
                    "dateTime": f"{first_date.isoformat()}T00:00:00",
                    "timeZone": room.timezone,
                },
                "end": {"dateTime": f"{last.isoformat()}T00:00:00", "timeZone": room.timezone},
                "isAllDay": True,
            },
        )

    def add_block(self, email: str, start: datetime, end: datetime) -> str:
        """Add a timed (not all-day) booking between two aware datetimes, any length."""
        return self.add_event(email, {"start": start, "end": end})

    def move_event(self, email: str, event_id: str, new_start: Any, new_end: Any) -> None:
        """Reschedule an event (datetimes or Graph pairs); a moved occurrence becomes an
        exception, a moved all-day event stays midnight-aligned in its own zone."""
        room = self.org.require(email)
        with self.store.lock:
            cal = self._materialize(room)
            ev = cal.find(event_id)
            (start, _), (end, _) = (parse_event_time(x) for x in (new_start, new_end))
            if ev.get("isAllDay"):
                start, end = snap_all_day(start, end, ev.get("_z") or self.zone(room))
            cal.remove(ev)
            ev["_s"], ev["_e"] = start, end
            if ev["type"] == "occurrence":
                ev["type"] = "exception"
            cal.place(ev)
            self._record(room, event_id, ev)

    def cancel_event(self, email: str, event_id: str) -> None:
        """Mark an event cancelled (it stays on the calendar with isCancelled true)."""
        room = self.org.require(email)
        with self.store.lock:
            ev = self._materialize(room).find(event_id)
            ev["isCancelled"] = True
            self._record(room, event_id, ev)

    def delete_event(self, email: str, event_id: str) -> None:
        """Remove an event; delta reports it as @removed."""
        room = self.org.require(email)
        with self.store.lock:
            cal = self._materialize(room)
            cal.remove(cal.find(event_id))
            self._record(room, event_id, None)

    def inject_malformed(self, email: str, kind: str) -> str:
        """Add a broken event the pipeline must survive; returns its id."""
        room = self.org.require(email)
        with self.store.lock:
            cal = self._materialize(room)
            day = self.today if self.today.weekday() < 5 else self.today - timedelta(days=2)
            start = self.generator.local(room, day, 12 * 60)
            key = f"{self.seed}|{room.email}|malformed|{kind}|{self.version + 1}"
            ev = self.generator.build(
                [room],
                key=key,
                rng=random.Random(key),
                etype="singleInstance",
                start=start,
                end=start + timedelta(minutes=30),
                created=start - timedelta(days=1),
            )
            if kind == "end_before_start":
                ev["_e"] = start - timedelta(minutes=30)
            elif kind == "missing_start":
                del ev["start"]
            elif kind == "unknown_timezone":
                ev["_tz"] = "Mars/Olympus_Mons"
            elif kind == "duplicate_id":
                others = [e for e in cal.events() if e["type"] == "singleInstance"]
                ev["id"] = others[0]["id"]
            else:
                raise ValueError(f"unknown malformed kind {kind!r}")
            cal.place(ev)
            self._record(room, ev["id"], ev)
            return ev["id"]
