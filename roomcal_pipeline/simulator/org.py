"""The synthetic organisation: buildings, rooms (and how some misbehave), people, registry.

Everything here is a pure function of the seed; calendars live in `generator.py`.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

DOMAIN = "contoso.example"
# The tenant's initial domain: some people sign in (userPrincipalName) there while their
# mail is on DOMAIN, as in many real tenants (GRAPH_FACTS.md "Directory").
UPN_DOMAIN = "contoso.onmicrosoft.com"
EXTERNAL_DOMAINS = ("fabrikam.example", "northwind.example", "adatum.example")
FAILURES = ("mailbox_not_found", "mailbox_not_enabled", "access_denied")

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

# (name, code, IANA zone, city, country)
BUILDINGS = (
    ("London HQ", "lon", "Europe/London", "London", "United Kingdom"),
    ("New York Office", "nyc", "America/New_York", "New York", "United States"),
    ("Bangalore Campus", "blr", "Asia/Kolkata", "Bengaluru", "India"),
    ("Adelaide Hub", "adl", "Australia/Adelaide", "Adelaide", "Australia"),
)
_BUILDING_BY_NAME = {b[0]: b for b in BUILDINGS}


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

    address: str  # the primary SMTP address (`mail`)
    name: str
    department: str | None
    upn: str | None = None  # userPrincipalName; None means the same as `address`
    aliases: tuple[str, ...] = ()  # secondary SMTP addresses (`smtp:` proxyAddresses)

    @property
    def principal(self) -> str:
        """The userPrincipalName: what `GET /users/{id | userPrincipalName}` accepts."""
        return self.upn or self.address

    @property
    def proxy_addresses(self) -> list[str]:
        """Graph's proxyAddresses: `SMTP:` for the primary address, `smtp:` for aliases."""
        return [f"SMTP:{self.address}", *(f"smtp:{a}" for a in self.aliases)]


def user_id(user: SimUser) -> str:
    """The object id Graph shows for a user (stable, derived from the primary address)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, user.address))


def building_of(room: SimRoom) -> tuple[str, str, str, str, str]:
    """The BUILDINGS row of a room: (name, code, zone, city, country)."""
    return _BUILDING_BY_NAME[room.building]


class Organisation:
    """Directory of the synthetic tenant: people, rooms, room pairs and the registry CSV."""

    def __init__(self, seed: int, rooms_per_building: int, people: int = 48) -> None:
        self.seed = seed
        self._zones: dict[str, ZoneInfo] = {}
        self.users: list[SimUser] = self._make_users(people)
        self.externals: list[SimUser] = self._make_externals()
        # Every SMTP address (mail and aliases) of a person, as Exchange resolves them.
        self._users_by_addr = {u.address: u for u in self.users}
        self._users_by_addr.update({a: u for u in self.users for a in u.aliases})
        self._users_by_upn = {u.principal: u for u in self.users}
        self._order = {u.address: i for i, u in enumerate(self.users)}
        self.rooms: list[SimRoom] = self._make_rooms(rooms_per_building)
        self._by_email = {r.email.lower(): r for r in self.rooms if r.email}
        # Position of each room among its building's mailboxes (stable under set_room_failure).
        self.position: dict[str, int] = {}
        for bname, *_ in BUILDINGS:
            mine = [r.email for r in self.rooms if r.building == bname and r.email]
            self.position.update({email: i for i, email in enumerate(mine)})
        self.partner = self._make_pairs()

    def _make_users(self, people: int) -> list[SimUser]:
        rng = random.Random(f"{self.seed}|users")
        users, seen = [], set()
        while len(users) < people:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            addr = f"{first}.{last}@{DOMAIN}".lower()
            if addr in seen and len(users) >= 48:  # a large directory: numbered namesakes
                addr = f"{first}.{last}{len(users)}@{DOMAIN}".lower()
            if addr in seen:
                continue
            seen.add(addr)
            i = len(users)
            # Every third person signs in on the initial domain (UPN differs from mail);
            # every fourth has an alias, which is the address they organise meetings with.
            upn = f"{first[0]}{last}{i}@{UPN_DOMAIN}".lower() if i % 3 == 2 else None
            aliases = (f"{first[0]}{last}.{i}@{DOMAIN}".lower(),) if i % 4 == 2 else ()
            users.append(
                SimUser(
                    addr,
                    f"{first} {last}",
                    _DEPARTMENTS[i % len(_DEPARTMENTS)],
                    upn=upn,
                    aliases=aliases,
                )
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

    def require(self, email: str) -> SimRoom:
        """Room by email; KeyError if the tenant has no such room."""
        room = self.room(email)
        if room is None:
            raise KeyError(email)
        return room

    def user(self, address: str) -> SimUser | None:
        """Directory user by address, or None (rooms are users without a department)."""
        addr = address.lower()
        if addr in self._users_by_addr:
            return self._users_by_addr[addr]
        room = self._by_email.get(addr)
        return SimUser(room.email, room.name, None) if room else None  # type: ignore[arg-type]

    def user_by_principal(self, key: str) -> SimUser | None:
        """Directory user by userPrincipalName or object id (what `GET /users/{id}` takes);
        a mail or alias that is not also the UPN is not found there."""
        k = key.lower()
        user = self._users_by_upn.get(k)
        if user is None:
            user = next((u for u in self.users if user_id(u) == k), None)
        if user is None:
            room = self._by_email.get(k)
            user = SimUser(room.email, room.name, None) if room else None  # type: ignore[arg-type]
        return user

    def users_matching(
        self, principals: set[str], mails: set[str], proxies: set[str]
    ) -> list[SimUser]:
        """People whose UPN, mail or a proxy address (`smtp:x`, lower case) is asked for, in
        directory order: what a `$filter` over those properties returns."""
        hits = {self._users_by_upn.get(p) for p in principals}
        hits |= {u for u in map(self._users_by_addr.get, mails) if u and u.address in mails}
        for proxy in proxies:
            kind, _, address = proxy.partition(":")
            user = self._users_by_addr.get(address)
            if (
                user is not None
                and kind in ("smtp", "x500")
                and proxy in {p.lower() for p in user.proxy_addresses}
            ):
                hits.add(user)
        hits.discard(None)
        return sorted(hits, key=lambda u: self._order[u.address])

    def set_department(self, address: str, department: str | None) -> SimUser:
        """Move a person to another department (HR changed it in the directory)."""
        old = self._users_by_addr[address.lower()]
        new = replace(old, department=department)
        self.users[self.users.index(old)] = new
        for key in (old.address, *old.aliases):
            self._users_by_addr[key] = new
        self._users_by_upn[old.principal] = new
        return new

    def users_by_smtp(self, address: str) -> list[SimUser]:
        """Users whose mail or an `smtp:` proxy address equals `address` (case-insensitive)."""
        user = self.user(address)
        return [user] if user is not None else []

    def department(self, address: str) -> str | None:
        """The organizer's department; KeyError for addresses outside the directory."""
        user = self.user(address)
        if user is None:
            raise KeyError(address)
        return user.department

    def zone(self, room: SimRoom) -> ZoneInfo:
        """Cached ZoneInfo of a room."""
        z = self._zones.get(room.timezone)
        if z is None:
            z = self._zones[room.timezone] = ZoneInfo(room.timezone)
        return z

    def registry_csv(self) -> str:
        """The room registry (docs/configuration.md) listing every room with in_registry."""
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
        room = self.require(email)
        new = replace(room, failure=failure)
        self.rooms[self.rooms.index(room)] = new
        self._by_email[email.lower()] = new
