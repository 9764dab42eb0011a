"""Graph's wire types, parsed as Graph documents them: every property optional,
`dateTime` + `timeZone` pairs with IANA or Windows zone names, fractional
seconds of any length."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

_UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "GMT", "Z", "Coordinated Universal Time", "tzone://Microsoft/Utc"}
)
_FRACTION_RE = re.compile(r"\.(\d+)")


class GraphValueError(ValueError):
    """A Graph value roomcal cannot read; the message names the field, never its value."""


@lru_cache(maxsize=512)
def zone_for(name: str) -> ZoneInfo:
    """Resolve an IANA or Windows time zone name (Graph uses both)."""
    if name in _UTC_NAMES:
        return ZoneInfo("UTC")
    iana = win_tz.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise GraphValueError("unknown time zone") from exc


def _fromisoformat(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # More than 6 fractional digits with an offset, or other variants 3.11 rejects:
        # trim the fraction to microseconds and try once more.
        trimmed = _FRACTION_RE.sub(lambda m: "." + m.group(1)[:6], text, count=1)
        try:
            return datetime.fromisoformat(trimmed)
        except ValueError as exc:
            raise GraphValueError("not an ISO 8601 date-time") from exc


def parse_datetime_pair(pair: dict | None, field: str) -> datetime:
    """A Graph `dateTimeTimeZone` as an aware UTC datetime."""
    if not isinstance(pair, dict) or not isinstance(pair.get("dateTime"), str):
        raise GraphValueError(f"missing {field}")
    try:
        value = _fromisoformat(pair["dateTime"])
    except GraphValueError as exc:
        raise GraphValueError(f"{field}: {exc}") from None
    if value.tzinfo is None:
        zone_name = pair.get("timeZone") or "UTC"
        try:
            value = value.replace(tzinfo=zone_for(zone_name))
        except GraphValueError as exc:
            raise GraphValueError(f"{field}: {exc}") from None
    return value.astimezone(UTC)


def parse_timestamp(text: object, field: str) -> datetime | None:
    """A Graph `DateTimeOffset` (e.g. createdDateTime); None when absent."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise GraphValueError(f"{field}: not a string")
    try:
        value = _fromisoformat(text)
    except GraphValueError as exc:
        raise GraphValueError(f"{field}: {exc}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_graph_datetime(value: datetime) -> str:
    """The form Graph accepts in `startDateTime`/`endDateTime` query parameters."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
