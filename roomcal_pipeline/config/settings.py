"""Environment settings, resolved once by the CLI or a Dagster resource, never at import."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_DATA_DIR = ".roomcal"
HISTORY_MONTHS = 6  # the default first daily partition: this many months back

_DAY_NAMES = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class ConfigError(Exception):
    """A configuration problem the user can fix; its message is one line naming the setting."""


def parse_business_hours(text: str) -> tuple[int, int]:
    """Parse `HH:MM-HH:MM` into minutes after local midnight; `24:00` closes at end of day."""
    match = _HOURS_RE.match(text or "")
    if not match:
        raise ValueError(f"business hours {text!r} are not HH:MM-HH:MM")
    oh, om, ch, cm = (int(g) for g in match.groups())
    if oh > 23 or om > 59 or cm > 59 or ch > 24 or (ch == 24 and cm):
        raise ValueError(f"business hours {text!r} are not valid times")
    opening, closing = oh * 60 + om, ch * 60 + cm
    if closing <= opening:
        raise ValueError(f"business hours {text!r} close before they open")
    return opening, closing


def parse_business_days(text: str) -> frozenset[int]:
    """Parse `Mon-Fri`, `Mon,Wed,Fri` or a mix into ISO weekday numbers (Mon=1)."""
    days: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if "-" in part:
            first, _, last = (p.strip()[:3] for p in part.partition("-"))
            if first not in _DAY_NAMES or last not in _DAY_NAMES:
                raise ValueError(f"business days {text!r} name an unknown day")
            a, b = _DAY_NAMES[first], _DAY_NAMES[last]
            days.update(range(a, b + 1) if a <= b else [*range(a, 8), *range(1, b + 1)])
        elif part[:3] in _DAY_NAMES and part in (part[:3], _full_day_name(part[:3])):
            days.add(_DAY_NAMES[part[:3]])
        else:
            raise ValueError(f"business days {text!r} name an unknown day {part!r}")
    if not days:
        raise ValueError(f"business days {text!r} name no day")
    return frozenset(days)


def _full_day_name(abbrev: str) -> str:
    return {
        "mon": "monday",
        "tue": "tuesday",
        "wed": "wednesday",
        "thu": "thursday",
        "fri": "friday",
        "sat": "saturday",
        "sun": "sunday",
    }[abbrev]


def default_history_start(today: date | None = None) -> date:
    """The first day of the month HISTORY_MONTHS months before `today`: the default first
    daily partition (2026-12-15 gives 2026-06-01). It moves once a month."""
    today = today or date.today()
    months = today.year * 12 + today.month - 1 - HISTORY_MONTHS
    return date(months // 12, months % 12 + 1, 1)


def parse_history_start(text: str) -> date:
    """`ROOMCAL_HISTORY_START`: a date written YYYY-MM-DD, no later than today in UTC (the
    last daily partition), so that there is at least one partition."""
    text = text.strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    today = datetime.now(UTC).date()
    if value > today:
        raise ValueError(f"{value} is after today ({today} in UTC, the last daily partition)")
    return value


def history_start_from_env(env: Mapping[str, str] | None = None) -> date:
    """The first daily partition: `ROOMCAL_HISTORY_START`, or default_history_start();
    ConfigError naming the variable when it is malformed."""
    env = os.environ if env is None else env
    text = env.get("ROOMCAL_HISTORY_START", "").strip()
    if not text:
        return default_history_start()
    try:
        return parse_history_start(text)
    except ValueError as exc:
        raise ConfigError(f"ROOMCAL_HISTORY_START: {exc}") from None


def check_timezone(name: str) -> str:
    """Return the IANA zone name, or raise ValueError for an unknown one."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


@dataclass(frozen=True)
class Settings:
    """Every docs/configuration.md setting, validated."""

    database_url: str | None = field(default=None, repr=False)  # it may hold a password
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_certificate_path: str | None = None
    graph_token: str | None = field(default=None, repr=False)
    rooms_file: Path | None = None
    timezone: str = "UTC"
    business_hours: tuple[int, int] = (9 * 60, 17 * 60)
    business_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    adhoc_max_lead_minutes: int = 30
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    history_start: date = field(default_factory=default_history_start)
    sync_history_days: int = 7

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def parsed(name: str, parse, default):
            value = get(name)
            if value is None:
                return default
            try:
                return parse(value)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None

        def days(value: str) -> int:
            try:
                number = int(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a whole number of days") from None
            if number < 0:
                raise ValueError(f"{value!r} is negative")
            return number

        def lead_minutes(value: str) -> int:
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a whole number of minutes") from None

        return cls(
            database_url=get("ROOMCAL_DATABASE_URL"),
            graph_base_url=(get("ROOMCAL_GRAPH_BASE_URL") or DEFAULT_GRAPH_BASE_URL).rstrip("/"),
            tenant_id=get("AZURE_TENANT_ID"),
            client_id=get("AZURE_CLIENT_ID"),
            client_secret=get("AZURE_CLIENT_SECRET"),
            client_certificate_path=get("AZURE_CLIENT_CERTIFICATE_PATH"),
            graph_token=get("ROOMCAL_GRAPH_TOKEN"),
            rooms_file=parsed("ROOMCAL_ROOMS_FILE", Path, None),
            timezone=parsed("ROOMCAL_TIMEZONE", check_timezone, "UTC"),
            business_hours=parsed(
                "ROOMCAL_BUSINESS_HOURS", parse_business_hours, (9 * 60, 17 * 60)
            ),
            business_days=parsed(
                "ROOMCAL_BUSINESS_DAYS", parse_business_days, frozenset(range(1, 6))
            ),
            adhoc_max_lead_minutes=parsed("ROOMCAL_ADHOC_MAX_LEAD_MINUTES", lead_minutes, 30),
            data_dir=Path(get("ROOMCAL_DATA_DIR") or DEFAULT_DATA_DIR),
            history_start=history_start_from_env(env),
            sync_history_days=parsed("ROOMCAL_SYNC_HISTORY_DAYS", days, 7),
        )

    def load_registry(self):
        """The registry at ROOMCAL_ROOMS_FILE with these defaults: (rooms, rejected rows)."""
        from roomcal_pipeline.config.registry import load_registry

        return load_registry(
            self.require_rooms_file(), self.timezone, self.business_hours, self.business_days
        )

    def require_rooms_file(self) -> Path:
        if self.rooms_file is None:
            raise ConfigError("ROOMCAL_ROOMS_FILE is not set: point it at the room registry CSV")
        if not self.rooms_file.is_file():
            raise ConfigError(f"ROOMCAL_ROOMS_FILE: no file at {self.rooms_file}")
        return self.rooms_file

    def require_graph_credentials(self) -> None:
        """Fail early, naming the missing variable, instead of failing per room later."""
        if self.graph_token:
            return
        missing = [
            n
            for n, v in (("AZURE_TENANT_ID", self.tenant_id), ("AZURE_CLIENT_ID", self.client_id))
            if not v
        ]
        if not (self.client_secret or self.client_certificate_path):
            missing.append("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")
        if missing:
            raise ConfigError(
                "Graph credentials missing: set " + ", ".join(missing) + " (or ROOMCAL_GRAPH_TOKEN)"
            )
