"""A synthetic Microsoft 365 organisation whose room calendars are generated lazily.

Events are a pure function of (seed, room, local day), so a tenant with thousands of
rooms costs almost no memory; only rooms that tests mutate are materialized.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import random
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .graphtime import IANA_TO_WINDOWS, graph_datetime, graph_stamp, parse_iso

CANARY_PREFIX = "ZZCANARY"
DOMAIN = "contoso.example"
EXTERNAL_DOMAINS = ("fabrikam.example", "northwind.example", "adatum.example")
FAILURES = ("mailbox_not_found", "mailbox_not_enabled", "access_denied")

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_FIRST = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kavya",
    "Liam",
    "Maya",
    "Noah",
    "Olu",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
)
_LAST = (
    "Adams",
    "Bose",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "Gupta",
    "Hughes",
    "Ivanova",
    "Jones",
    "Kumar",
    "Lopez",
    "Murphy",
    "Nakamura",
    "Okafor",
    "Patel",
)
_DEPARTMENTS = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "Legal",
    "Operations",
    None,
)
_ROOM_NAMES = (
    "Aurora",
    "Beacon",
    "Cedar",
    "Delta",
    "Ember",
    "Fjord",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lagoon",
    "Maple",
    "Nimbus",
    "Orchid",
    "Pebble",
)
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

# (name, code, IANA zone, city, country)
BUILDINGS = (
    ("London HQ", "lon", "Europe/London", "London", "United Kingdom"),
    ("New York Office", "nyc", "America/New_York", "New York", "United States"),
    ("Bangalore Campus", "blr", "Asia/Kolkata", "Bengaluru", "India"),
    ("Adelaide Hub", "adl", "Australia/Adelaide", "Adelaide", "Australia"),
)


@dataclass(frozen=True)
class SimRoom:
    """One room of the simulated tenant and how it misbehaves."""

    email: str | None
    name: str
    building: str
    floor: int
    capacity: int
    timezone: str
    failure: str | None
    business_hours: str | None
    business_days: str | None
    in_places: bool = True
    in_registry: bool = True


@dataclass(frozen=True)
class SimUser:
    """A directory user who can organise or attend meetings."""

    address: str
    name: str
    department: str | None


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


def _overlaps(ev: dict, start: datetime, end: datetime) -> bool:
    """calendarView overlap test; tolerant of malformed (end before start) events."""
    lo, hi = sorted((ev["_s"], ev["_e"]))
    if lo == hi:
        return start <= lo < end
    return lo < end and hi > start


@dataclass
class _Change:
    version: int
    email: str
    event_id: str


@dataclass
class _Store:
    """Materialized calendar of a mutated room, keyed by local start date."""

    days: dict[date, list[dict]] = field(default_factory=dict)


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
    ) -> None:
        self.seed = seed
        self.bookings_per_day = bookings_per_day
        self.canaries = canaries
        self.today = today or datetime.now(UTC).date()
        self.first_day = self.today - timedelta(days=history_days)
        self.last_day = self.today + timedelta(days=future_days)
        # "Now" as the generator sees it: nothing is created after today's midnight UTC.
        self._anchor = datetime.combine(self.today, time(), tzinfo=UTC)
        self.version = 0
        self._lock = threading.RLock()
        self._changes: list[_Change] = []
        self._stores: dict[str, _Store] = {}
        self._series_cache: dict[str, list[_Series]] = {}
        self._zones: dict[str, ZoneInfo] = {}
        self.users: list[SimUser] = self._make_users()
        self.externals: list[SimUser] = self._make_externals()
        self._users_by_addr = {u.address: u for u in self.users}
        self.rooms: list[SimRoom] = self._make_rooms(rooms_per_building)
        self._by_email = {r.email.lower(): r for r in self.rooms if r.email}
        self._partner = self._make_pairs()

    # ----------------------------------------------------------------- directory
    def _make_users(self) -> list[SimUser]:
        rng = random.Random(f"{self.seed}|users")
        users, seen = [], set()
        while len(users) < 48:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            addr = f"{first}.{last}@{DOMAIN}".lower()
            if addr in seen:
                continue
            seen.add(addr)
            users.append(
                SimUser(addr, f"{first} {last}", _DEPARTMENTS[len(users) % len(_DEPARTMENTS)])
            )
        return users

    def _make_externals(self) -> list[SimUser]:
        rng = random.Random(f"{self.seed}|externals")
        out = []
        for i in range(12):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            dom = EXTERNAL_DOMAINS[i % len(EXTERNAL_DOMAINS)]
            out.append(SimUser(f"{first}.{last}{i}@{dom}".lower(), f"{first} {last}", None))
        return out

    def _make_rooms(self, per_building: int) -> list[SimRoom]:
        rng = random.Random(f"{self.seed}|rooms")
        rooms: list[SimRoom] = []
        for bi, (bname, code, zone, city, _country) in enumerate(BUILDINGS):
            for i in range(per_building):
                label = _ROOM_NAMES[i % len(_ROOM_NAMES)] + (
                    "" if i < len(_ROOM_NAMES) else f" {i}"
                )
                rooms.append(
                    SimRoom(
                        email=f"{code}-room-{i + 1:03d}@{DOMAIN}",
                        name=f"{city} {label}",
                        building=bname,
                        floor=1 + i // 4,
                        capacity=rng.choice((4, 6, 8, 10, 12, 16, 20)),
                        timezone=zone,
                        failure=None,
                        business_hours="08:00-18:00" if (bi == 1 and i == 0) else None,
                        business_days="Mon,Wed,Fri" if (bi == 3 and i == 0) else None,
                        # One healthy registered room the places API does not list.
                        in_places=not (bi == 2 and i == per_building - 1),
                    )
                )
        rooms += [
            SimRoom(
                f"lon-boardroom@{DOMAIN}",
                "London Boardroom",
                "London HQ",
                5,
                24,
                "Europe/London",
                "access_denied",
                None,
                None,
            ),
            SimRoom(
                f"nyc-legacy-room@{DOMAIN}",
                "New York Legacy",
                "New York Office",
                2,
                8,
                "America/New_York",
                "mailbox_not_enabled",
                None,
                None,
            ),
            SimRoom(
                f"blr-ghost-room@{DOMAIN}",
                "Bangalore Ghost",
                "Bangalore Campus",
                3,
                6,
                "Asia/Kolkata",
                "mailbox_not_found",
                None,
                None,
                in_places=False,
            ),
            SimRoom(
                None,
                "Adelaide Pop-up",
                "Adelaide Hub",
                1,
                4,
                "Australia/Adelaide",
                None,
                None,
                None,
                in_places=False,
            ),
            SimRoom(
                f"adl-annex@{DOMAIN}",
                "Adelaide Annex",
                "Adelaide Hub",
                2,
                10,
                "Australia/Adelaide",
                None,
                None,
                None,
                in_registry=False,
            ),
        ]
        return rooms

    def _make_pairs(self) -> dict[str, str]:
        """Pair neighbouring healthy rooms of a building for multi-room meetings."""
        partner: dict[str, str] = {}
        for bname, *_ in BUILDINGS:
            healthy = [
                r.email
                for r in self.rooms
                if r.building == bname and r.email and r.failure is None and r.in_registry
            ]
            for a, b in zip(healthy[0::2], healthy[1::2], strict=False):
                partner[a], partner[b] = b, a
        return partner

    def room(self, email: str | None) -> SimRoom | None:
        """Room by (case-insensitive) email, or None."""
        return self._by_email.get(email.lower()) if email else None

    def user(self, address: str) -> SimUser | None:
        """Directory user by address, or None (rooms are users without a department)."""
        addr = address.lower()
        if addr in self._users_by_addr:
            return self._users_by_addr[addr]
        room = self._by_email.get(addr)
        return SimUser(room.email, room.name, None) if room else None  # type: ignore[arg-type]

    def department(self, address: str) -> str | None:
        """The organizer's department; KeyError for addresses outside the directory."""
        user = self.user(address)
        if user is None:
            raise KeyError(address)
        return user.department

    def registry_csv(self) -> str:
        """The room registry (SPEC section 3) listing every room with in_registry."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            [
                "email",
                "name",
                "building",
                "floor",
                "capacity",
                "timezone",
                "business_hours",
                "business_days",
            ]
        )
        for r in self.rooms:
            if r.in_registry:
                w.writerow(
                    [
                        r.email or "",
                        r.name,
                        r.building,
                        r.floor,
                        r.capacity,
                        r.timezone,
                        r.business_hours or "",
                        r.business_days or "",
                    ]
                )
        return buf.getvalue()

    def set_room_failure(self, email: str, failure: str | None) -> None:
        """Force (or clear) a mailbox failure at runtime."""
        if failure is not None and failure not in FAILURES:
            raise ValueError(f"unknown failure {failure!r}")
        room = self._require(email)
        with self._lock:
            new = replace(room, failure=failure)
            self.rooms[self.rooms.index(room)] = new
            self._by_email[email.lower()] = new

    def _require(self, email: str) -> SimRoom:
        room = self.room(email)
        if room is None:
            raise KeyError(email)
        return room

    def zone(self, room: SimRoom) -> ZoneInfo:
        """Cached ZoneInfo of a room."""
        z = self._zones.get(room.timezone)
        if z is None:
            z = self._zones[room.timezone] = ZoneInfo(room.timezone)
        return z

    # ---------------------------------------------------------------- generation
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
        _b, _code, _zone, city, country = next(b for b in BUILDINGS if b[0] == room.building)
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
        return rng.choice(self.externals) if rng.random() < external_p else rng.choice(self.users)

    def _build(
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
    ) -> dict:
        """Build one full Graph event (start/end kept as UTC datetimes in _s/_e)."""
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
            "organizer": {"emailAddress": self._email(organizer, key)},
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
        }
        if c:
            ev["zzCanaryProperty"] = self._canary("extra", key)
        return ev

    def _email(self, person: SimUser, key: str) -> dict:
        out = {"name": person.name, "address": person.address}
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

    def _local(self, room: SimRoom, day: date, minute: int) -> datetime:
        return (
            datetime.combine(day, time(), tzinfo=self.zone(room))
            .replace(hour=minute // 60, minute=minute % 60)
            .astimezone(UTC)
        )

    def _master(self, room: SimRoom, s: _Series) -> dict:
        """The full series master event (type seriesMaster, with recurrence)."""
        rng = random.Random(s.key + "|props")
        start = self._local(room, s.first, s.start_minute)
        created = min(
            start - timedelta(days=rng.randrange(1, 21), seconds=rng.randrange(86400)),
            self._anchor - timedelta(hours=1),
        )
        ev = self._build(
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
        start = self._local(room, day, s.start_minute)
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
        start = self._local(
            room, day, open_m + 30 * rng.randrange(max(1, (close_m - open_m - duration) // 30))
        )
        created = min(
            start - timedelta(days=rng.randrange(1, 15)), self._anchor - timedelta(hours=2)
        )
        ordered = [room, partner] if room.email == a else [partner, room]
        ev = self._build(
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
        start = self._local(room, day, minute)
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
        return self._build(
            [room],
            key=key,
            rng=sub,
            etype="singleInstance",
            start=start,
            end=start + timedelta(minutes=duration),
            created=created,
        )

    def _all_day(self, room: SimRoom, day: date, rng: random.Random) -> dict:
        key = f"{self.seed}|{room.email}|{day.isoformat()}|allday"
        tz = self.zone(room)
        start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
        created = min(start - timedelta(days=rng.randrange(1, 20)), self._anchor)
        return self._build(
            [room],
            key=key,
            rng=random.Random(key),
            etype="singleInstance",
            start=start,
            end=end,
            created=created,
            all_day=True,
        )

    def _generate_day(self, room: SimRoom, day: date) -> list[dict]:
        """All events starting on local `day` for `room`, sorted by start then id."""
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
            partner_email = self._partner.get(room.email)  # type: ignore[arg-type]
            if partner_email:
                pair = self._pair_event(room, self._by_email[partner_email], day)
                if pair:
                    events.append(pair)
            n = max(0, self.bookings_per_day - len(events) + rng.randint(-2, 2))
        else:
            n = 1 if rng.random() < 0.1 else 0
        events += [self._single(room, day, rng, i) for i in range(n)]
        if rng.random() < 0.05:
            events.append(self._all_day(room, day, rng))
        events.sort(key=lambda e: (e["_s"], e["id"]))
        return events

    def day_events(self, room: SimRoom, day: date) -> list[dict]:
        """Internal events starting on local `day` (materialized store for mutated rooms)."""
        store = self._stores.get(room.email)  # type: ignore[arg-type]
        if store is None:
            return self._generate_day(room, day)
        with self._lock:
            return list(store.days.get(day, ()))

    # ------------------------------------------------------------------ queries
    def _local_day_range(self, room: SimRoom, start: datetime, end: datetime) -> tuple[date, date]:
        tz = self.zone(room)
        return start.astimezone(tz).date() - timedelta(days=1), end.astimezone(tz).date()

    def view_page(
        self,
        room: SimRoom,
        start: datetime,
        end: datetime,
        cursor: tuple[int, int] | None,
        limit: int,
    ) -> tuple[list[dict], tuple[int, int] | None]:
        """Up to `limit` events overlapping [start, end) from `cursor` (day ordinal, index)."""
        d0, d1 = self._local_day_range(room, start, end)
        day, idx = cursor or (d0.toordinal(), 0)
        out: list[dict] = []
        while day <= d1.toordinal():
            evs = [
                e for e in self.day_events(room, date.fromordinal(day)) if _overlaps(e, start, end)
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
        d0, d1 = self._local_day_range(room, start, end)
        return [
            self._master(room, s)
            for s in self._series(room)
            if s.first <= d1
            and (s.last is None or s.last >= d0)
            and s.first <= self.last_day
            and (s.last is None or s.last >= self.first_day)
        ]

    def calendar_view(self, email: str, start: datetime, end: datetime) -> list[dict]:
        """Ground truth: full Graph events overlapping [start, end) in UTC, like calendarView."""
        room = self._require(email)
        start, end = (
            parse_iso(x) if isinstance(x, str) else x.astimezone(UTC) for x in (start, end)
        )
        events, _ = self.view_page(room, start, end, None, 1 << 62)
        return [to_wire(e, UTC, "UTC") for e in events]

    # ---------------------------------------------------------------- mutations
    def _materialize(self, room: SimRoom) -> _Store:
        store = self._stores.get(room.email)  # type: ignore[arg-type]
        if store is None:
            store = _Store()
            day = self.first_day - timedelta(days=1)
            while day <= self.last_day:
                evs = self._generate_day(room, day)
                if evs:
                    store.days[day] = evs
                day += timedelta(days=1)
            self._stores[room.email] = store  # type: ignore[index]
        return store

    def _find(self, store: _Store, event_id: str) -> tuple[date, dict]:
        for day, evs in store.days.items():
            for ev in evs:
                if ev["id"] == event_id:
                    return day, ev
        raise KeyError(event_id)

    def _place(self, room: SimRoom, store: _Store, ev: dict) -> None:
        day = ev["_s"].astimezone(self.zone(room)).date()
        lst = store.days.setdefault(day, [])
        lst.append(ev)
        lst.sort(key=lambda e: (e["_s"], e["id"]))

    def _bump(self, email: str, event_id: str, ev: dict | None) -> None:
        self.version += 1
        self._changes.append(_Change(self.version, email.lower(), event_id))
        if ev is not None:
            ck = (
                f"{CANARY_PREFIX}-changeKey-v{self.version}"
                if self.canaries
                else base64.b64encode(f"v{self.version}:{event_id[-8:]}".encode()).decode()
            )
            ev["changeKey"], ev["@odata.etag"] = ck, f'W/"{ck}"'
            ev["lastModifiedDateTime"] = graph_stamp(datetime.now(UTC))

    def add_event(self, email: str, event: dict) -> str:
        """Add a single-instance event given Graph-style JSON (missing fields are filled in)."""
        room = self._require(email)
        with self._lock:
            store = self._materialize(room)
            start, end = (_event_time(event[k]) for k in ("start", "end"))
            key = f"{self.seed}|{room.email}|added|{self.version + 1}"
            ev = self._build(
                [room],
                key=key,
                rng=random.Random(key),
                etype="singleInstance",
                start=start,
                end=end,
                created=datetime.now(UTC),
            )
            for k, v in event.items():
                if k not in ("start", "end"):
                    ev[k] = v
            ev["_s"], ev["_e"] = start, end
            self._place(room, store, ev)
            self._bump(room.email, ev["id"], ev)  # type: ignore[arg-type]
            return ev["id"]

    def move_event(self, email: str, event_id: str, new_start: datetime, new_end: datetime) -> None:
        """Reschedule an event; a moved occurrence becomes an exception."""
        room = self._require(email)
        with self._lock:
            store = self._materialize(room)
            day, ev = self._find(store, event_id)
            store.days[day].remove(ev)
            ev["_s"], ev["_e"] = new_start.astimezone(UTC), new_end.astimezone(UTC)
            if ev["type"] == "occurrence":
                ev["type"] = "exception"
            self._place(room, store, ev)
            self._bump(room.email, event_id, ev)  # type: ignore[arg-type]

    def cancel_event(self, email: str, event_id: str) -> None:
        """Mark an event cancelled (it stays on the calendar with isCancelled true)."""
        room = self._require(email)
        with self._lock:
            _, ev = self._find(self._materialize(room), event_id)
            ev["isCancelled"] = True
            self._bump(room.email, event_id, ev)  # type: ignore[arg-type]

    def delete_event(self, email: str, event_id: str) -> None:
        """Remove an event; delta reports it as @removed."""
        room = self._require(email)
        with self._lock:
            store = self._materialize(room)
            day, ev = self._find(store, event_id)
            store.days[day].remove(ev)
            self._bump(room.email, event_id, None)  # type: ignore[arg-type]

    def inject_malformed(self, email: str, kind: str) -> str:
        """Add a broken event the pipeline must survive; returns its id."""
        room = self._require(email)
        with self._lock:
            store = self._materialize(room)
            day = self.today if self.today.weekday() < 5 else self.today - timedelta(days=2)
            start = self._local(room, day, 12 * 60)
            key = f"{self.seed}|{room.email}|malformed|{kind}|{self.version + 1}"
            ev = self._build(
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
                others = [
                    e for evs in store.days.values() for e in evs if e["type"] == "singleInstance"
                ]
                ev["id"] = others[0]["id"]
            else:
                raise ValueError(f"unknown malformed kind {kind!r}")
            self._place(room, store, ev)
            self._bump(room.email, ev["id"], ev)  # type: ignore[arg-type]
            return ev["id"]

    def changes_since(self, email: str, version: int, upto: int | None = None) -> list[str]:
        """Ids changed on a room in (version, upto], oldest first, each once."""
        with self._lock:
            seen: dict[str, None] = {}
            for ch in self._changes:
                if (
                    version < ch.version
                    and (upto is None or ch.version <= upto)
                    and ch.email == email.lower()
                ):
                    seen.pop(ch.event_id, None)
                    seen[ch.event_id] = None
            return list(seen)

    def current(self, room: SimRoom, event_id: str) -> list[dict]:
        """Current state of an event id on a mutated room (several if the id is duplicated)."""
        store = self._stores.get(room.email)  # type: ignore[arg-type]
        if store is None:
            return []
        with self._lock:
            return [e for evs in store.days.values() for e in evs if e["id"] == event_id]


def _event_time(value: Any) -> datetime:
    """A datetime or Graph {dateTime, timeZone} object as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    dt = parse_iso(value["dateTime"]).replace(tzinfo=None)
    return dt.replace(tzinfo=ZoneInfo(value.get("timeZone") or "UTC")).astimezone(UTC)


def to_wire(ev: dict, tz: Any, tzname: str, fields: list[str] | None = None) -> dict:
    """Graph JSON for an internal event: start/end rendered in the requested zone."""
    if fields is None:
        out = {k: v for k, v in ev.items() if k[0] != "_"}
    else:
        out = {k: ev[k] for k in fields if k in ev}
    raw_tz = ev.get("_tz")
    for k, src in (("start", "_s"), ("end", "_e")):
        if k in out:
            if raw_tz:
                out[k] = {"dateTime": graph_datetime(ev[src], UTC), "timeZone": raw_tz}
            else:
                out[k] = {"dateTime": graph_datetime(ev[src], tz), "timeZone": tzname}
    return out


def delta_wire(ev: dict, tz: Any, tzname: str) -> dict:
    """Delta rendering: plain occurrences are trimmed like Graph, everything else is full."""
    if ev["type"] == "occurrence" and not ev["isCancelled"]:
        out = {
            "@odata.type": "#microsoft.graph.event",
            "id": ev["id"],
            "type": "occurrence",
            "seriesMasterId": ev["seriesMasterId"],
            "start": None,
            "end": None,
        }
        return to_wire({**out, "_s": ev["_s"], "_e": ev["_e"]}, tz, tzname)
    out = to_wire(ev, tz, tzname)
    return {"@odata.type": "#microsoft.graph.event", **out}
