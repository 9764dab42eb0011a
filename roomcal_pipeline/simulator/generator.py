"""Lazily generated calendars of the synthetic organisation's rooms.

Events are a pure function of (seed, today, room, local day), so a tenant with thousands of
rooms costs almost no memory. What a room's calendar holds, and how often:

- weekly series (about 1.25 x bookings_per_day per room): occurrences, ~7% moved
  (exception), ~5% cancelled; one-off bookings in business hours, some made minutes before
  or after they start; meetings booking two paired rooms (same iCalUId, different ids);
- per 7-day period, one booking across local midnight (starts 20:00-23:00, ends 00:30-03:00);
- per 10-day period, one all-day event (isAllDay; one day, or two days ~35% of the time);
- per 14-day period, one multi-day block starting on a weekday (2-4 days, ~09:00 on day 1
  to ~17:00 on the last day, not all-day);
- a per-room list of long blocks computed once, placed relative to `today` so that roomcal's
  rolling sync window (local dates [today-7, today+28)) always meets them: rooms at position
  1, 4, 7... of their building hold a block crossing the window's start (it starts on
  today-10..today-8 and ends on today-6..today-4), rooms at 2, 5, 8... a 28-45 day
  renovation starting on today-27..today-10 (all-day half the time, otherwise
  08:00 on the first day to 18:00 on the last), rooms at 0, 3, 6... a block crossing the
  window's end; and half the rooms a 10-21 day project-room block anywhere between
  first_day and last_day.

Per-day kinds stay shorter than store.SHORT_SPAN_DAYS so a view looks only that many days
back; long blocks live in the per-room list that views scan whole.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .graphtime import IANA_TO_WINDOWS, graph_stamp
from .org import Organisation, SimRoom, SimUser, building_of
from .store import CANARY_PREFIX

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SUBJECTS = (
    "Weekly sync",
    "Project kickoff",
    "Budget review",
    "1:1",
    "Design critique",
    "Customer call",
    "Hiring panel",
    "Quarterly planning",
    "Standup",
    "Retro",
    "Vendor demo",
    "Board prep",
    "Interview",
    "Training",
    "Offsite planning",
)
_RESPONSES = (
    "accepted",
    "accepted",
    "accepted",
    "tentativelyAccepted",
    "declined",
    "none",
    "notResponded",
)
_ZERO_TIME = "0001-01-01T00:00:00Z"

_NIGHT_SUBJECTS = ("Release window", "APAC all-hands", "Maintenance window", "Late customer call")
_WORKSHOP_SUBJECTS = ("Training workshop", "Hackathon", "Design sprint", "Leadership offsite")
_ALL_DAY_SUBJECTS = ("Reserved all day", "Company event", "Room closed", "Exam day")

# Per-day kinds that span days: (name, period in days, starts on weekdays only).
_NIGHT, _ALL_DAY, _MULTI_DAY = ("night", 7, False), ("allday", 10, False), ("multiday", 14, True)


@dataclass(frozen=True)
class _Series:
    """A weekly recurring series on one room (metadata only; events are built on demand)."""

    key: str
    master_id: str
    weekday: int
    start_minute: int
    duration: int
    first: date
    last: date | None


def _mkid(key: str) -> str:
    """Opaque, Graph-looking, deterministic id."""
    digest = hashlib.blake2b(key.encode(), digest_size=48).digest()
    return "AAMkA" + base64.urlsafe_b64encode(digest).decode()


def _ical(key: str, day: date | None) -> str:
    """Graph-looking iCalUId; occurrences embed their instance date like Exchange does."""
    stamp = f"{day.year:04X}{day.month:02X}{day.day:02X}" if day else "00000000"
    return (
        "040000008200E00074C5B7101A82E008"
        + stamp
        + hashlib.blake2b(key.encode(), digest_size=20).hexdigest().upper()
    )


def _hours(spec: str | None) -> tuple[int, int]:
    """Minutes since midnight of a 'HH:MM-HH:MM' window (default 08:00-18:00 for bookings)."""
    if not spec:
        return 8 * 60, 18 * 60
    a, b = spec.split("-")
    return tuple(int(x.split(":")[0]) * 60 + int(x.split(":")[1]) for x in (a, b))  # type: ignore[return-value]


def _days(spec: str | None) -> frozenset[int]:
    """Weekday numbers of 'Mon-Fri' or 'Mon,Wed,Fri'."""
    if not spec:
        return frozenset(range(5))
    out: set[int] = set()
    for part in spec.lower().split(","):
        part = part.strip()
        if "-" in part:
            a, b = (_WEEKDAYS.index(p.strip()[:3]) for p in part.split("-"))
            out.update(range(a, b + 1))
        elif part:
            out.add(_WEEKDAYS.index(part[:3]))
    return frozenset(out)


@dataclass(frozen=True)
class _Block:
    """A long block of one room (metadata only; the event is built on demand)."""

    key: str
    subject: str
    day: date  # local start date
    start: datetime
    end: datetime
    all_day: bool


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def _by_start(ev: dict) -> tuple[datetime, str]:
    return ev["_s"], ev["id"]


class CalendarGenerator:
    """Builds the Graph events of untouched rooms on demand."""

    def __init__(
        self,
        org: Organisation,
        *,
        seed: int,
        bookings_per_day: int,
        canaries: bool,
        today: date,
        first_day: date,
        last_day: date,
    ) -> None:
        self.org = org
        self.seed = seed
        self.bookings_per_day = bookings_per_day
        self.canaries = canaries
        self.today, self.first_day, self.last_day = today, first_day, last_day
        # "Now" as the generator sees it: nothing is created after today's midnight UTC.
        self._anchor = datetime.combine(today, time(), tzinfo=UTC)
        self._series_cache: dict[str, list[_Series]] = {}
        self._block_cache: dict[str, tuple[list[_Block], dict[date, list[_Block]]]] = {}

    def _canary(self, what: str, key: str) -> str:
        return f"{CANARY_PREFIX}-{what}-{hashlib.blake2b(key.encode(), digest_size=4).hexdigest()}"

    def _series(self, room: SimRoom) -> list[_Series]:
        cached = self._series_cache.get(room.email)  # type: ignore[arg-type]
        if cached is not None:
            return cached
        rng = random.Random(f"{self.seed}|{room.email}|series")
        open_m, close_m = _hours(room.business_hours)
        out = []
        span = (self.last_day - self.first_day).days
        for i in range(max(1, round(self.bookings_per_day * 1.25))):
            weekday = rng.randrange(5)
            duration = rng.choice((30, 30, 45, 60, 60, 90))
            start_minute = open_m + 30 * rng.randrange(max(1, (close_m - open_m - duration) // 30))
            if rng.random() < 0.7:
                first = self.first_day - timedelta(days=rng.randrange(7, 120))
            else:
                first = self.first_day + timedelta(days=rng.randrange(max(1, span - 14)))
            first += timedelta(days=(weekday - first.weekday()) % 7)
            last = first + timedelta(weeks=rng.randrange(4, 30)) if rng.random() < 0.2 else None
            key = f"{self.seed}|{room.email}|series{i}"
            out.append(
                _Series(key, _mkid("master|" + key), weekday, start_minute, duration, first, last)
            )
        self._series_cache[room.email] = out  # type: ignore[index]
        return out

    def _location(self, room: SimRoom, key: str) -> dict:
        _b, _code, _zone, city, country = building_of(room)
        return {
            "displayName": room.name,
            "locationType": "conferenceRoom",
            "uniqueId": self._canary("uniqueId", key) if self.canaries else room.email,
            "uniqueIdType": "directory",
            "locationEmailAddress": room.email,
            "address": {
                "street": self._canary("street", key) if self.canaries else "",
                "city": city,
                "state": "",
                "countryOrRegion": country,
                "postalCode": "",
            },
            "coordinates": {},
        }

    def _person(self, rng: random.Random, external_p: float) -> SimUser:
        org = self.org
        return rng.choice(org.externals) if rng.random() < external_p else rng.choice(org.users)

    def build(
        self,
        rooms: list[SimRoom],
        *,
        key: str,
        rng: random.Random,
        etype: str,
        start: datetime,
        end: datetime,
        created: datetime,
        all_day: bool = False,
        ical_day: date | None = None,
        ical_key: str | None = None,
        subject: str | None = None,
    ) -> dict:
        """Build one full Graph event.

        start/end are kept as UTC instants in `_s`/`_e` and the booking zone in `_z`; the
        wire rendering (wire.py) turns them into dateTimeTimeZone pairs.
        """
        room = rooms[0]
        eid = _mkid(f"{key}|{room.email}")
        c = self.canaries
        organizer = self._person(rng, 0.08)
        attendees: list[dict] = []
        picked = {organizer.address}
        if rng.random() < 0.3:
            attendees.append(self._attendee(organizer, "required", "organizer", key, 0))
        for n in range(rng.randrange(0, 9)):
            person = self._person(rng, 0.12)
            if person.address in picked:
                continue
            picked.add(person.address)
            attendees.append(
                self._attendee(
                    person,
                    "required" if rng.random() < 0.75 else "optional",
                    rng.choice(_RESPONSES),
                    key,
                    n + 1,
                )
            )
        for r in rooms:
            attendees.append(
                self._attendee(
                    SimUser(r.email, r.name, None),
                    "resource",
                    "accepted",  # type: ignore[arg-type]
                    key,
                    99,
                )
            )
        online = rng.random() < 0.4
        stray_link = not online and rng.random() < 0.04
        sensitivity = (
            "private"
            if rng.random() < 0.1
            else ("confidential" if rng.random() < 0.02 else "normal")
        )
        show_as = (
            "free" if rng.random() < 0.05 else ("tentative" if rng.random() < 0.05 else "busy")
        )
        subject_text = rng.choice(_SUBJECTS)
        if subject:
            subject_text = subject
        has_att = c or rng.random() < 0.15
        ck = (
            self._canary("changeKey", key)
            if c
            else base64.b64encode(hashlib.blake2b(key.encode(), digest_size=12).digest()).decode()
        )
        modified = min(
            created + timedelta(seconds=rng.randrange(0, 3600)), max(created, self._anchor)
        )
        locs = [self._location(r, key) for r in rooms]
        if len(rooms) == 1:
            location = dict(locs[0])
        else:
            names = "; ".join(r.name for r in rooms)
            location = {
                "displayName": names,
                "locationType": "default",
                "uniqueId": self._canary("uniqueId", key) if c else names,
                "uniqueIdType": "private",
            }
        join = (
            self._canary("joinUrl", key)
            if c
            else f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{eid[-20:]}%40thread.v2/0"
        )
        win_tz = IANA_TO_WINDOWS.get(room.timezone, room.timezone)
        ev: dict[str, Any] = {
            "@odata.etag": f'W/"{ck}"',
            "id": eid,
            "createdDateTime": graph_stamp(created, rng.randrange(10)),
            "lastModifiedDateTime": graph_stamp(modified, rng.randrange(10)),
            "changeKey": ck,
            "categories": [self._canary("category", key)]
            if c
            else (["Blue category"] if rng.random() < 0.1 else []),
            "transactionId": self._canary("transactionId", key) if c else None,
            "originalStartTimeZone": win_tz,
            "originalEndTimeZone": win_tz,
            "iCalUId": _ical(ical_key or key, ical_day),
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": True,
            "hasAttachments": has_att,
            "subject": self._canary("subject", key) if c else subject_text,
            "bodyPreview": self._canary("bodyPreview", key) if c else f"Agenda: {subject_text}",
            "importance": "normal",
            "sensitivity": sensitivity,
            "isAllDay": all_day,
            "isCancelled": False,
            "isOrganizer": False,
            "responseRequested": True,
            "seriesMasterId": None,
            "showAs": show_as,
            "type": etype,
            "webLink": self._canary("webLink", key)
            if c
            else f"https://outlook.office365.com/owa/?itemid={eid}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": (self._canary("onlineMeetingUrl", key) if c else join)
            if (online and rng.random() < 0.5)
            else None,
            "isOnlineMeeting": online,
            "onlineMeetingProvider": "teamsForBusiness" if online else "unknown",
            "allowNewTimeProposals": True,
            "occurrenceId": None,
            "isDraft": False,
            "hideAttendees": False,
            "responseStatus": {
                "response": "accepted",
                "time": self._canary("responseTime", key) if c else _ZERO_TIME,
            },
            "body": {
                "contentType": "html",
                "content": self._canary("body", key)
                if c
                else f"<html><body><p>{subject_text}</p></body></html>",
            },
            "start": None,
            "end": None,
            "location": location,
            "locations": locs,
            "recurrence": None,
            "attendees": attendees,
            "organizer": {"emailAddress": self._email(organizer, key, organizer=True)},
            "onlineMeeting": {"joinUrl": join} if (online or stray_link) else None,
            "attachments": [
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "id": _mkid("att|" + key),
                    "name": self._canary("attachment", key) if c else "agenda.docx",
                    "contentType": "application/octet-stream",
                    "size": 18211,
                    "isInline": False,
                }
            ]
            if has_att
            else [],
            "_s": start,
            "_e": end,
            "_z": self.org.zone(room),
        }
        if c:
            ev["zzCanaryProperty"] = self._canary("extra", key)
        return ev

    def _email(self, person: SimUser, key: str, *, organizer: bool = False) -> dict:
        # People with an alias organise meetings from it (Exchange stamps the address the
        # meeting was sent from), so the organizer's address is not always their `mail`.
        address = person.aliases[0] if organizer and person.aliases else person.address
        out = {"name": person.name, "address": address}
        if self.canaries:
            out["canaryField"] = self._canary("emailExtra", key)
        return out

    def _attendee(self, person: SimUser, atype: str, response: str, key: str, n: int) -> dict:
        time_s = self._canary(f"attendeeTime{n}", key) if self.canaries else _ZERO_TIME
        return {
            "type": atype,
            "status": {"response": response, "time": time_s},
            "emailAddress": self._email(person, f"{key}|{n}"),
        }

    def local(self, room: SimRoom, day: date, minute: int) -> datetime:
        return (
            datetime.combine(day, time(), tzinfo=self.org.zone(room))
            .replace(hour=minute // 60, minute=minute % 60)
            .astimezone(UTC)
        )

    def _master(self, room: SimRoom, s: _Series) -> dict:
        """The full series master event (type seriesMaster, with recurrence)."""
        rng = random.Random(s.key + "|props")
        start = self.local(room, s.first, s.start_minute)
        created = min(
            start - timedelta(days=rng.randrange(1, 21), seconds=rng.randrange(86400)),
            self._anchor - timedelta(hours=1),
        )
        ev = self.build(
            [room],
            key=s.key,
            rng=rng,
            etype="seriesMaster",
            start=start,
            end=start + timedelta(minutes=s.duration),
            created=created,
        )
        ev["id"] = s.master_id
        pattern: dict[str, Any] = {
            "type": "weekly",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": [_DAY_NAMES[s.weekday]],
            "firstDayOfWeek": "sunday",
            "index": "first",
        }
        if self.canaries:
            pattern["canaryField"] = self._canary("pattern", s.key)
        ev["recurrence"] = {
            "pattern": pattern,
            "range": {
                "type": "endDate" if s.last else "noEnd",
                "startDate": s.first.isoformat(),
                "endDate": s.last.isoformat() if s.last else "0001-01-01",
                "recurrenceTimeZone": IANA_TO_WINDOWS.get(room.timezone, room.timezone),
                "numberOfOccurrences": 0,
            },
        }
        return ev

    def _occurrence(self, room: SimRoom, s: _Series, day: date) -> dict:
        """One instance of a series; some are moved (exception) or cancelled."""
        ev = self._master(room, s)
        okey = f"{s.key}|{day.isoformat()}"
        ev["id"] = _mkid("occ|" + okey)
        ev["iCalUId"] = _ical(s.key, day)
        ev["seriesMasterId"] = s.master_id
        ev["recurrence"] = None
        ev["type"] = "occurrence"
        ev["occurrenceId"] = f"OID.{s.master_id}.{day.isoformat()}"
        start = self.local(room, day, s.start_minute)
        end = start + timedelta(minutes=s.duration)
        r = random.Random(okey).random()
        if r < 0.07:
            shift = timedelta(minutes=random.Random(okey + "|m").choice((-60, -30, 30, 60, 90)))
            start, end = start + shift, end + shift
            ev["type"] = "exception"
        elif r < 0.12:
            ev["isCancelled"] = True
        ev["_s"], ev["_e"] = start, end
        return ev

    def _pair_event(self, room: SimRoom, partner: SimRoom, day: date) -> dict | None:
        """A meeting booking two rooms: same iCalUId on both calendars, different ids."""
        a, b = sorted((room.email, partner.email))  # type: ignore[type-var]
        pkey = f"{self.seed}|pair|{a}|{b}|{day.isoformat()}"
        rng = random.Random(pkey)
        if rng.random() >= 0.35:
            return None
        open_m, close_m = _hours(room.business_hours)
        duration = rng.choice((60, 90, 120))
        start = self.local(
            room, day, open_m + 30 * rng.randrange(max(1, (close_m - open_m - duration) // 30))
        )
        created = min(
            start - timedelta(days=rng.randrange(1, 15)), self._anchor - timedelta(hours=2)
        )
        ordered = [room, partner] if room.email == a else [partner, room]
        ev = self.build(
            ordered,
            key=pkey,
            rng=rng,
            etype="singleInstance",
            start=start,
            end=start + timedelta(minutes=duration),
            created=created,
        )
        ev["id"] = _mkid(f"{pkey}|{room.email}")
        return ev

    def _single(self, room: SimRoom, day: date, rng: random.Random, n: int) -> dict:
        """A one-off booking: ad hoc (minutes before, sometimes after start) or planned."""
        key = f"{self.seed}|{room.email}|{day.isoformat()}|{n}"
        open_m, close_m = _hours(room.business_hours)
        duration = rng.choice((15, 30, 30, 30, 45, 60, 60, 60, 90, 120))
        latest = max(open_m, close_m - duration)
        minute = open_m + 15 * rng.randrange((latest - open_m) // 15 + 1)
        if rng.random() < 0.05:
            minute = max(0, open_m - 30)  # starts before the business window
        start = self.local(room, day, minute)
        r = rng.random()
        if r < 0.25:
            lead = timedelta(minutes=rng.randrange(1, 31))
        elif r < 0.32:
            lead = -timedelta(minutes=rng.randrange(1, 26))
        elif r < 0.40:
            lead = timedelta(minutes=rng.randrange(31, 241))
        else:
            lead = timedelta(days=rng.randrange(1, 30), minutes=rng.randrange(1440))
        created = (
            start - lead - timedelta(seconds=rng.randrange(60), microseconds=rng.randrange(10**6))
        )
        if created > self._anchor:
            created = self._anchor - timedelta(minutes=rng.randrange(1, 600))
        sub = random.Random(key)
        return self.build(
            [room],
            key=key,
            rng=sub,
            etype="singleInstance",
            start=start,
            end=start + timedelta(minutes=duration),
            created=created,
        )

    def _midnight(self, room: SimRoom, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.org.zone(room)).astimezone(UTC)

    def _created(self, rng: random.Random, start: datetime, lo: int, hi: int) -> datetime:
        """Booked lo..hi days ahead, and never after the generator's "now"."""
        return min(
            start - timedelta(days=rng.randrange(lo, hi), seconds=rng.randrange(86400)),
            self._anchor - timedelta(hours=2),
        )

    # ------------------------------------------------------- kinds spanning days
    def _picked(self, room: SimRoom, kind: tuple[str, int, bool], day: date) -> bool:
        """Whether `day` is the one day of its period that holds an event of `kind`."""
        name, period, weekdays_only = kind
        o = day.toordinal()
        p0 = o - o % period
        h = _hash(f"{self.seed}|{room.email}|{name}|{p0}")
        if not weekdays_only:
            return p0 + h % period == o
        # date.fromordinal(1) is a Monday, so (ordinal - 1) % 7 is the weekday.
        choices = [x for x in range(p0, p0 + period) if (x - 1) % 7 < 5]
        return choices[h % len(choices)] == o

    def _all_day(self, room: SimRoom, day: date) -> dict:
        """An all-day event on the room's local date(s): local midnight to local midnight.

        The instants are the room's; the wire shows floating dates (wire.py).
        """
        key = f"{self.seed}|{room.email}|{day.isoformat()}|allday"
        rng = random.Random(key)
        days = 2 if rng.random() < 0.35 else 1
        start = self._midnight(room, day)
        return self.build(
            [room],
            key=key,
            rng=rng,
            etype="singleInstance",
            start=start,
            end=self._midnight(room, day + timedelta(days=days)),
            created=self._created(rng, start, 1, 20),
            all_day=True,
            subject=rng.choice(_ALL_DAY_SUBJECTS),
        )

    def _overnight(self, room: SimRoom, day: date) -> dict:
        """A booking across local midnight, e.g. 21:00 to 01:00."""
        key = f"{self.seed}|{room.email}|{day.isoformat()}|night"
        rng = random.Random(key)
        start = self.local(room, day, 20 * 60 + 30 * rng.randrange(7))
        end = self.local(room, day + timedelta(days=1), rng.choice((30, 60, 90, 120, 180)))
        return self.build(
            [room],
            key=key,
            rng=rng,
            etype="singleInstance",
            start=start,
            end=end,
            created=self._created(rng, start, 1, 15),
            subject=rng.choice(_NIGHT_SUBJECTS),
        )

    def _multi_day(self, room: SimRoom, day: date) -> dict:
        """A 2-4 day block, not all-day: ~09:00 on the first day to ~17:00 on the last."""
        key = f"{self.seed}|{room.email}|{day.isoformat()}|multiday"
        rng = random.Random(key)
        days = rng.choice((2, 2, 3, 3, 4))
        start = self.local(room, day, rng.choice((510, 540, 570)))
        last = day + timedelta(days=days - 1)
        end = self.local(room, last, rng.choice((960, 990, 1020, 1050)))
        return self.build(
            [room],
            key=key,
            rng=rng,
            etype="singleInstance",
            start=start,
            end=end,
            created=self._created(rng, start, 5, 40),
            subject=rng.choice(_WORKSHOP_SUBJECTS),
        )

    def spanning_day(self, room: SimRoom, day: date) -> list[dict]:
        """The events starting on local `day` that may reach into later days (short ones)."""
        if not (self.first_day <= day <= self.last_day):
            return []
        out = []
        if self._picked(room, _NIGHT, day):
            out.append(self._overnight(room, day))
        if self._picked(room, _ALL_DAY, day):
            out.append(self._all_day(room, day))
        if self._picked(room, _MULTI_DAY, day):
            out.append(self._multi_day(room, day))
        return out

    # --------------------------------------------------------------- long blocks
    def _blocks(self, room: SimRoom) -> tuple[list[_Block], dict[date, list[_Block]]]:
        """The room's long blocks, computed once: (sorted by start, indexed by local date)."""
        email = room.email or ""
        cached = self._block_cache.get(email)
        if cached is not None:
            return cached
        rng = random.Random(f"{self.seed}|{email}|blocks")
        today, blocks = self.today, []

        def add(kind: str, first: date, last: date, all_day: bool, subject: str, hours=(9, 17)):
            if all_day:
                start = self._midnight(room, first)
                end = self._midnight(room, last + timedelta(days=1))
            else:
                start = self.local(room, first, hours[0] * 60)
                end = self.local(room, last, hours[1] * 60)
            key = f"{self.seed}|{email}|block|{kind}|{first.isoformat()}"
            blocks.append(_Block(key, subject, first, start, end, all_day))

        role = self.org.position.get(email, 0) % 3
        if role == 1:
            # Crosses the start of roomcal's rolling window: local dates [today-7, today+28).
            first = today - timedelta(days=7 + rng.randint(1, 3))
            last = today - timedelta(days=7 - rng.randint(1, 3))
            add("straddle", first, last, rng.random() < 0.3, "Training week")
        elif role == 2:
            first = today - timedelta(days=7 + rng.randint(3, 20))
            last = first + timedelta(days=rng.randint(28, 45) - 1)
            add("renovation", first, last, rng.random() < 0.5, "Renovation", (8, 18))
        else:
            first = today + timedelta(days=28 - rng.randint(1, 3))
            last = today + timedelta(days=28 + rng.randint(0, 3))
            add("sprint", first, last, False, "Project sprint")
        if rng.random() < 0.5:
            length = rng.randint(10, 21)
            span = (self.last_day - self.first_day).days
            first = self.first_day + timedelta(days=rng.randrange(max(1, span - length)))
            add(
                "project", first, first + timedelta(days=length - 1), False, "Project room", (8, 18)
            )
        blocks.sort(key=lambda b: (b.start, b.key))
        by_day: dict[date, list[_Block]] = {}
        for b in blocks:
            by_day.setdefault(b.day, []).append(b)
        self._block_cache[email] = (blocks, by_day)
        return blocks, by_day

    def _block_event(self, room: SimRoom, b: _Block) -> dict:
        rng = random.Random(b.key)
        return self.build(
            [room],
            key=b.key,
            rng=rng,
            etype="singleInstance",
            start=b.start,
            end=b.end,
            created=self._created(rng, b.start, 7, 60),
            all_day=b.all_day,
            subject=b.subject,
        )

    def long_events(self, room: SimRoom) -> list[dict]:
        """Every long block of the room, sorted by start."""
        return [self._block_event(room, b) for b in self._blocks(room)[0]]

    def long_before(self, room: SimRoom, day: date, start: datetime, end: datetime) -> list[dict]:
        """Long blocks starting before local `day` that overlap [start, end), sorted."""
        return [
            self._block_event(room, b)
            for b in self._blocks(room)[0]
            if b.day < day and b.start < end and b.end > start
        ]

    def long_on(self, room: SimRoom, day: date) -> list[dict]:
        """Long blocks starting on local `day`."""
        return [self._block_event(room, b) for b in self._blocks(room)[1].get(day, ())]

    # ------------------------------------------------------------------- days
    def generate_day(self, room: SimRoom, day: date) -> list[dict]:
        """The short events starting on local `day` (long blocks excluded), unsorted."""
        if not (self.first_day <= day <= self.last_day):
            return []
        rng = random.Random(f"{self.seed}|{room.email}|{day.isoformat()}")
        weekday = day.weekday()
        events = [
            self._occurrence(room, s, day)
            for s in self._series(room)
            if s.weekday == weekday and s.first <= day and (s.last is None or day <= s.last)
        ]
        if weekday in _days(room.business_days):
            partner_email = self.org.partner.get(room.email)  # type: ignore[arg-type]
            if partner_email:
                pair = self._pair_event(room, self.org.room(partner_email), day)  # type: ignore[arg-type]
                if pair:
                    events.append(pair)
            n = max(0, self.bookings_per_day - len(events) + rng.randint(-2, 2))
        else:
            n = 1 if rng.random() < 0.1 else 0
        events += [self._single(room, day, rng, i) for i in range(n)]
        events += self.spanning_day(room, day)
        return events

    def day(self, room: SimRoom, day: date, *, spanning_only: bool = False) -> list[dict]:
        """Events starting on local `day`, long blocks included, sorted by start then id.

        With `spanning_only`, just those that can reach into later days: ordinary bookings
        end the day they start, so a view looking back past its first day skips them.
        """
        events = self.spanning_day(room, day) if spanning_only else self.generate_day(room, day)
        events += self.long_on(room, day)
        events.sort(key=_by_start)
        return events

    # ------------------------------------------------------------------ series
    def masters(self, room: SimRoom, d0: date, d1: date) -> list[dict]:
        """Series masters with instances that can fall on local dates d0..d1."""
        return [
            self._master(room, s)
            for s in self._series(room)
            if s.first <= d1
            and (s.last is None or s.last >= d0)
            and s.first <= self.last_day
            and (s.last is None or s.last >= self.first_day)
        ]
