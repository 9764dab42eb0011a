"""The room registry CSV (docs/configuration.md): one bad row is reported, the others still load."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from roomcal_pipeline.config.settings import (
    ConfigError,
    check_timezone,
    parse_business_days,
    parse_business_hours,
)

REQUIRED_COLUMNS = ("email", "name", "building", "floor", "capacity", "timezone")
_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


@dataclass(frozen=True)
class Room:
    """A registered room with its effective time zone and business window."""

    key: str  # the lower-cased email, or `noemail:<name>` for a room that cannot be synced
    email: str | None
    name: str
    building: str
    floor: str
    capacity: int | None
    timezone: str
    opens_minute: int  # business window, minutes after local midnight
    closes_minute: int
    business_days: frozenset[int]
    line: int

    @property
    def business_days_text(self) -> str:
        return ",".join(str(d) for d in sorted(self.business_days))


@dataclass(frozen=True)
class RegistryIssue:
    line: int
    reason: str
    room_key: str | None = None  # the room the row names, when its email (or name) is readable
    room_name: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def load_registry(
    path: Path,
    default_timezone: str = "UTC",
    default_hours: tuple[int, int] = (9 * 60, 17 * 60),
    default_days: frozenset[int] = frozenset(range(1, 6)),
) -> tuple[list[Room], list[RegistryIssue]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"ROOMCAL_ROOMS_FILE: cannot read {path}: {exc.strerror}") from None
    return parse_registry(
        text, default_timezone, default_hours, default_days, source=f"ROOMCAL_ROOMS_FILE {path}"
    )


def parse_registry(
    text: str,
    default_timezone: str = "UTC",
    default_hours: tuple[int, int] = (9 * 60, 17 * 60),
    default_days: frozenset[int] = frozenset(range(1, 6)),
    source: str = "room registry",
) -> tuple[list[Room], list[RegistryIssue]]:
    """Rooms and rejected rows; ConfigError (one line, naming `source`) without a header."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        expected = f"{','.join(REQUIRED_COLUMNS)} (then optionally business_hours,business_days)"
        first = next(iter(text.lstrip("\ufeff").splitlines()), "").strip()
        if not first:
            raise ConfigError(
                f"{source} is empty: its first line must be the header row {expected}"
            )
        if len(missing) == len(REQUIRED_COLUMNS):  # no header at all: a room row comes first
            shown = first if len(first) <= 60 else first[:59] + "…"
            raise ConfigError(
                f"{source} has no header row: its first line must be {expected}; it is {shown!r}"
            )
        raise ConfigError(
            f"{source}: the header row lacks column(s) {', '.join(missing)}; expected {expected}"
        )
    reader.fieldnames = header
    rooms: list[Room] = []
    issues: list[RegistryIssue] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue
        if None in row:
            issues.append(RegistryIssue(line, "more fields than the header has columns"))
            continue
        try:
            room = _parse_row(row, line, default_timezone, default_hours, default_days)
        except ValueError as exc:
            key, name = _row_identity(row)
            issues.append(RegistryIssue(line, str(exc), key, name))
            continue
        if room.key in seen:
            what = f"email {room.email}" if room.email else f"room {room.name!r} without email"
            issues.append(
                RegistryIssue(line, f"{what} already registered on line {seen[room.key]}")
            )
            continue
        seen[room.key] = line
        rooms.append(room)
    return rooms, issues


def _row_identity(row) -> tuple[str | None, str | None]:
    """The key and name of the room a malformed row is about, when they can be read, so
    that the room shows up as `invalid_registry_row` instead of vanishing."""
    email = (row.get("email") or "").strip().lower()
    name = (row.get("name") or "").strip()
    if email and _EMAIL_RE.match(email):
        return email, name or email
    if not email and name:
        return f"noemail:{name.lower()}", name
    return None, None


def _parse_row(row, line, default_timezone, default_hours, default_days) -> Room:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    email = cell("email").lower() or None
    if email and not _EMAIL_RE.match(email):
        raise ValueError(f"email {cell('email')!r} is not an email address")
    name = cell("name")
    if not name and not email:
        raise ValueError("a room needs a name or an email")
    capacity_text = cell("capacity")
    capacity = None
    if capacity_text:
        if not capacity_text.isdigit():
            raise ValueError(f"capacity {capacity_text!r} is not a whole number")
        capacity = int(capacity_text)
    timezone = check_timezone(cell("timezone")) if cell("timezone") else default_timezone
    opens, closes = (
        parse_business_hours(cell("business_hours")) if cell("business_hours") else default_hours
    )
    days = parse_business_days(cell("business_days")) if cell("business_days") else default_days
    return Room(
        key=email or f"noemail:{name.lower()}",
        email=email,
        name=name or email or "",
        building=cell("building"),
        floor=cell("floor"),
        capacity=capacity,
        timezone=timezone,
        opens_minute=opens,
        closes_minute=closes,
        business_days=days,
        line=line,
    )
