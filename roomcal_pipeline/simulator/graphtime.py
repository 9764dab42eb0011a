"""Graph-style date/time formatting and parsing shared by the tenant and the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Windows zone names Graph accepts in `Prefer: outlook.timezone`, mapped to IANA.
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "India Standard Time": "Asia/Kolkata",
    "Nepal Standard Time": "Asia/Kathmandu",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}
IANA_TO_WINDOWS: dict[str, str] = {v: k for k, v in WINDOWS_ZONES.items()}

_FRACTION = re.compile(r"\.(\d+)")


def resolve_zone(name: str | None) -> tuple[tzinfo, str]:
    """Map a Prefer time zone (IANA or Windows) to a tzinfo; unknown names fall back to UTC."""
    if not name:
        return UTC, "UTC"
    iana = WINDOWS_ZONES.get(name, name)
    try:
        return ZoneInfo(iana), name
    except (ZoneInfoNotFoundError, ValueError):
        return UTC, "UTC"


def graph_datetime(dt: datetime, tz: tzinfo) -> str:
    """Wall time in `tz` with Graph's seven fractional digits and no offset."""
    local = dt.astimezone(tz)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond:06d}0"


def graph_stamp(dt: datetime, seventh: int = 0) -> str:
    """UTC timestamp like createdDateTime: 7 fractional digits and a Z suffix."""
    u = dt.astimezone(UTC)
    return f"{u:%Y-%m-%dT%H:%M:%S}.{u.microsecond:06d}{seventh % 10}Z"


def parse_iso(value: str) -> datetime:
    """Parse a query-string date/time; no offset means UTC, like Graph."""
    text = value.strip().replace(" ", "+")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
