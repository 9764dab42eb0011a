"""Property-based test (issue 9, item 8): random tenant changes interleaved with real
pipeline runs, checked after every step against an independent model of what
`raw.room_events` and `marts.fct_room_bookings` must hold.

Steps, drawn by hypothesis (a `RuleBasedStateMachine`):

- tenant changes through the simulator's public API: a booking, an all-day event (one or
  two days), a multi-day block (2-5 days), a booking across midnight; move (across days and
  window edges), cancel, delete of an event the model knows (seeded tenant events, among
  them recurring occurrences and all-day events, or ones the test added);
- `roomcal run` of 1-10 local dates (`run_assets`: a Dagster run of every asset, with dbt);
- `roomcal sync` with "today" moving forward from the tenant's today (`run_sync`: the delta
  sync job with dbt; the same today twice in a row makes an incremental delta round);
- the re-run of one partition already run (a 1-day `run_assets`).

The model (plain Python, nothing shared with roomcal's extraction, dbt models or the
simulator's internals; it reads the tenant only through `calendar_view`, its ground truth,
and the registry CSV for each room's zone) encodes the row-ownership contract (the only
roomcal code the test calls besides `run_assets`/`run_sync` writes raw.rooms before a first
sync, which a `roomcal run` would otherwise do):

- raw: after a run or sync of window W = [local date a, local date b) succeeds for room R,
  R's rows overlapping W are exactly the tenant's events overlapping W (by id, each whole:
  current start, end, isCancelled, showAs, type), and R's rows that do not overlap W and
  whose id was not returned are untouched. Overlap: start < W.end and end > W.start; a
  zero-length event when W.start <= start < W.end. A delta round converges to the same.
- all-day events are floating dates in the room's zone, whatever zone the wire names.
- marts: fct_room_bookings holds, per room, the model's raw rows that are bookings (not
  cancelled, showAs not "free", type not "seriesMaster") overlapping at least one local
  date covered by a successful run or sync of that room; compared as sets of
  (room_email, event_id, start_at, end_at).

Each pipeline step is a real Dagster run (1-35 s), so the default is small: 5 examples of
at most 6 steps (about 8 pipeline steps, about 3 minutes when nothing fails), from a fixed
seed (the same steps on every machine with the same hypothesis version), without shrinking,
on the PostgreSQL server only. Every example starts with up to four added events; at most two
tenant changes come in a row, and a `roomcal run` only after a change, so even short examples
interleave changes and runs; `run_across` starts a window inside a known event and added
events cluster around the first sync window's start, so windows often cut through
overnight, multi-day and all-day events. Environment variables:

- ROOMCAL_PBT_EXAMPLES (default 3): hypothesis examples (fresh tenant and database each);
- ROOMCAL_PBT_STEPS (default 6): at most this many steps per example;
- ROOMCAL_PBT_SEED (default 88, chosen with the pipeline stubbed out because its examples
  hold every kind of step, and windows that cut events, within the time budget): another
  seed gives other sequences; "random" a new one each run;
- ROOMCAL_PBT_SHRINK=1: shrink a failing example to a minimal step list (hypothesis stops
  shrinking after 5 minutes; each replay runs the pipeline again);
- ROOMCAL_PBT_TENANT_SEED (default 11): the simulated tenant's seed.

A longer run, for example:

    ROOMCAL_PBT_EXAMPLES=25 ROOMCAL_PBT_STEPS=12 ROOMCAL_PBT_SEED=random ROOMCAL_PBT_SHRINK=1 \\
        .venv/bin/pytest tests/property/test_load_and_sync_model.py -s -p no:cacheprovider

On failure hypothesis prints the steps (`state.add(spec=AllDay(...))`, `state.run(...)`,
...) and the notes below them say what each step did; the assertion lists every row that
differs from the model, with the step that made the model expect it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, note, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from roomcal_pipeline.cli.runner import run_assets, run_sync
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("ROOMCAL_PBT_EXAMPLES", "3"))
STEPS = int(os.environ.get("ROOMCAL_PBT_STEPS", "6"))
SHRINK = os.environ.get("ROOMCAL_PBT_SHRINK", "") not in ("", "0")
SEED = os.environ.get("ROOMCAL_PBT_SEED", "88")
TENANT_SEED = int(os.environ.get("ROOMCAL_PBT_TENANT_SEED", "11"))

# The tenant's "today": fixed, so the generated calendars never depend on the clock.
TODAY = date(2026, 11, 18)
# Local dates a run may cover: [TODAY - 21, TODAY + 14), and never past the last daily
# partition (today by the clock, UTC): `roomcal run` refuses an end after tomorrow.
RUN_FIRST = -21
RUN_END = min(14, (datetime.now(UTC).date() + timedelta(days=1) - TODAY).days)
# The delta sync's rolling window around its "today" (roomcal's defaults), and how long a
# room keeps one delta window: docs/configuration.md, "Delta windows".
SYNC_DAYS_BACK, SYNC_DAYS_AHEAD, SYNC_RESTART_DAYS = 7, 28, 28
SYNC_RESTART_EPOCH = date(2024, 1, 1)
SYNC_MAX_ADVANCE = 10
# Ground truth for a window is read from this far before it and filtered with the model's
# own overlap rule: a simulator whose view only looks one day back from a window's start
# (this commit's) still yields the events that began earlier (the test's own last at most
# 6 days; one that finds every overlapping event returns multi-week blocks anyway).
TRUTH_LOOKBACK = timedelta(days=10)
# Zones of the rooms under test: one room each (healthy, with an email, in the registry).
ZONE_PREFIXES = ("America/", "Australia/", "Asia/")
MAX_PENDING = 2


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Rec:
    """What raw.room_events must hold for one event (UTC instants)."""

    start: datetime
    end: datetime
    cancelled: bool
    show_as: str | None
    type: str | None
    all_day: bool = False

    def key(self) -> tuple:
        return (self.start, self.end, self.cancelled, self.show_as, self.type)

    def is_booking(self) -> bool:
        return (
            not self.cancelled
            and (self.show_as or "").lower() != "free"
            and (self.type or "").lower() != "seriesmaster"
        )


class Expect(NamedTuple):
    """A row the model expects in raw, with the step that made it expect it."""

    rec: Rec
    origin: str
    served: bool  # whether the simulator's calendar_view of exactly that window returned it


def overlaps(start: datetime, end: datetime, ws: datetime, we: datetime) -> bool:
    if start == end:
        return ws <= start < we
    return start < we and end > ws


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


def sync_window(email: str, today: date) -> tuple[date, date]:
    """The documented delta window of a room on `today`: it restarts on the days d with
    (d - 2024-01-01) % 28 == CRC-32 of the lower-cased email % 28, and reaches from 7
    days before its last restart to 28 days after the day before its next one."""
    offset = zlib.crc32(email.lower().encode()) % SYNC_RESTART_DAYS
    back = ((today - SYNC_RESTART_EPOCH).days - offset) % SYNC_RESTART_DAYS
    restart = today - timedelta(days=back)
    return (
        restart - timedelta(days=SYNC_DAYS_BACK),
        restart + timedelta(days=SYNC_RESTART_DAYS + SYNC_DAYS_AHEAD),
    )


def local_window(zone: ZoneInfo, first: date, end: date) -> tuple[datetime, datetime]:
    return local_midnight(first, zone), local_midnight(end, zone)


def local_dates(rec: Rec, zone: ZoneInfo) -> set[date]:
    """The room's local dates the event overlaps (a zero-length one: its start date)."""
    first = rec.start.astimezone(zone).date()
    if rec.end <= rec.start:
        return {first}
    last = (rec.end - timedelta(microseconds=1)).astimezone(zone).date()
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


_WALL = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?$")


def wall_time(text: str) -> datetime:
    """A Graph dateTime (seven fractional digits, no offset) as a naive datetime."""
    m = _WALL.match(text)
    assert m, f"unexpected Graph dateTime {text!r}"
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    return datetime(*(int(g) for g in m.groups()[:6]), micro)


def all_day_date(pair: dict, zone: ZoneInfo) -> date:
    """The floating date of an all-day boundary, in the room's zone.

    Graph sends midnight-to-midnight whatever the zone it names, so a midnight wall time is
    the date itself. The simulator of this commit sends the true instant in UTC instead
    (05:00 for a New York midnight): that is read as UTC and must be a local midnight.
    """
    wall = wall_time(pair["dateTime"])
    if wall.time() == datetime.min.time():
        return wall.date()
    local = wall.replace(tzinfo=UTC).astimezone(zone)
    assert local.time() == datetime.min.time(), f"all-day boundary {pair} is not a midnight"
    return local.date()


def decode(event: dict, zone: ZoneInfo) -> Rec:
    """Ground truth (wire JSON from `calendar_view`) as a Rec, in the room's zone."""
    if event.get("isAllDay"):
        start = local_midnight(all_day_date(event["start"], zone), zone)
        end = local_midnight(all_day_date(event["end"], zone), zone)
    else:
        for pair in (event["start"], event["end"]):
            assert pair["timeZone"] == "UTC", f"ground truth in {pair['timeZone']}"
        start = wall_time(event["start"]["dateTime"]).replace(tzinfo=UTC)
        end = wall_time(event["end"]["dateTime"]).replace(tzinfo=UTC)
    return Rec(
        start,
        end,
        bool(event.get("isCancelled")),
        event.get("showAs"),
        event.get("type"),
        bool(event.get("isAllDay")),
    )


def registry_zones(registry_csv: str) -> dict[str, ZoneInfo]:
    return {
        row["email"].lower(): ZoneInfo(row["timezone"])
        for row in csv.DictReader(io.StringIO(registry_csv))
        if row["email"]
    }


def pick_rooms(tenant: SimulatedTenant) -> list[str]:
    """One healthy registered room per zone prefix."""
    zones = registry_zones(tenant.registry_csv())
    healthy = [r.email.lower() for r in tenant.rooms if r.email and not r.failure]
    picked = []
    for prefix in ZONE_PREFIXES:
        picked.append(next(e for e in healthy if e in zones and zones[e].key.startswith(prefix)))
    return picked


def new_tenant() -> SimulatedTenant:
    return SimulatedTenant(seed=TENANT_SEED, rooms_per_building=1, bookings_per_day=3, today=TODAY)


ROOMS = pick_rooms(new_tenant())  # emails are a function of the seed: fixed for strategies


# ------------------------------------------------------------------ tenant-change specs


@dataclass(frozen=True)
class Booking:
    """A booking on local `day` (offset from TODAY) at `minute` after midnight."""

    room: str
    day: int
    minute: int
    minutes: int
    show_as: str


@dataclass(frozen=True)
class AllDay:
    """An all-day event on `days` local dates from `day`."""

    room: str
    day: int
    days: int
    show_as: str


@dataclass(frozen=True)
class Block:
    """A timed block from `day` at `minute` to `day + days` at `end_minute`."""

    room: str
    day: int
    minute: int
    days: int
    end_minute: int
    show_as: str


@dataclass(frozen=True)
class Overnight:
    """A booking from `day` at `minute` (late evening) to `quarters` x 15 min after midnight."""

    room: str
    day: int
    minute: int
    quarters: int
    show_as: str


@dataclass(frozen=True)
class EventRef:
    room: str
    id: str

    def __repr__(self) -> str:
        return f"EventRef({self.room.split('@')[0]!r}, '...{self.id[-8:]}')"


rooms_st = st.sampled_from(ROOMS)
# Any day of the runs' and syncs' range, or one around the first sync window's start
# (today - 7), so multi-day events often begin before a window they overlap.
day_st = st.one_of(st.integers(-14, 21), st.integers(-10, -5))
show_st = st.sampled_from(["busy", "busy", "tentative", "free", "oof"])
quarter_minute = st.integers(6 * 4, 20 * 4).map(lambda q: q * 15)
ADD_SPECS = st.one_of(
    st.builds(
        Booking, rooms_st, day_st, quarter_minute, st.sampled_from([15, 30, 60, 90, 180]), show_st
    ),
    st.builds(AllDay, rooms_st, day_st, st.integers(1, 2), show_st),
    st.builds(Block, rooms_st, day_st, quarter_minute, st.integers(2, 5), quarter_minute, show_st),
    st.builds(
        Overnight,
        rooms_st,
        day_st,
        st.integers(21 * 4, 23 * 4 + 3).map(lambda q: q * 15),
        st.integers(1, 24),
        show_st,
    ),
)


def wall(day: date, minute: int) -> str:
    return (datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )


def spec_event(spec, zone: ZoneInfo) -> dict:
    """Graph-style JSON for add_event, in the room's zone."""
    day = TODAY + timedelta(days=spec.day)
    name = zone.key
    if isinstance(spec, AllDay):
        start, end = wall(day, 0), wall(day + timedelta(days=spec.days), 0)
    elif isinstance(spec, Booking):
        start, end = wall(day, spec.minute), wall(day, spec.minute + spec.minutes)
    elif isinstance(spec, Block):
        start, end = wall(day, spec.minute), wall(day + timedelta(days=spec.days), spec.end_minute)
    else:
        start, end = wall(day, spec.minute), wall(day + timedelta(days=1), 15 * spec.quarters)
    event = {
        "start": {"dateTime": start, "timeZone": name},
        "end": {"dateTime": end, "timeZone": name},
        "showAs": spec.show_as,
    }
    if isinstance(spec, AllDay):
        event["isAllDay"] = True
    return event


# ---------------------------------------------------------------------- the warehouse

RAW_SQL = (
    "select room_email, event_id, start_at, end_at, is_cancelled, show_as, event_type,"
    " is_all_day from raw.room_events"
)
MART_SQL = "select room_email, event_id, start_at, end_at from marts.fct_room_bookings"


def _exists(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def read_raw(url: str) -> tuple[dict[str, dict[str, Rec]], int]:
    """Per room, event id -> Rec; and how many (room, id) keys appear more than once."""
    with psycopg.connect(url) as conn:
        if not _exists(conn, "raw.room_events"):
            return {}, 0
        rows = conn.execute(RAW_SQL).fetchall()
    out: dict[str, dict[str, Rec]] = {}
    dupes = 0
    for email, eid, start, end, cancelled, show_as, etype, all_day in rows:
        room = out.setdefault(email.lower(), {})
        dupes += eid in room
        room[eid] = Rec(
            start.astimezone(UTC),
            end.astimezone(UTC),
            bool(cancelled),
            show_as,
            etype,
            bool(all_day),
        )
    return out, dupes


def read_marts(url: str) -> set[tuple]:
    with psycopg.connect(url) as conn:
        if not _exists(conn, "marts.fct_room_bookings"):
            return set()
        rows = conn.execute(MART_SQL).fetchall()
    return {(r[0].lower(), r[1], r[2].astimezone(UTC), r[3].astimezone(UTC)) for r in rows}


def run_outcome(result, url: str) -> tuple[list[str], dict[str, tuple]]:
    """The Dagster run's failed steps (with their error) and each room's sync result."""
    failures = []
    for event in result.all_events:
        if event.is_step_failure:
            error = getattr(event.event_specific_data, "error", None)
            message = (getattr(error, "message", "") or "").strip().splitlines()
            failures.append(f"{event.step_key}: {message[0] if message else '?'}")
    with psycopg.connect(url) as conn:
        rows = []
        if _exists(conn, "raw.room_sync_results"):  # a run can fail before creating it
            rows = conn.execute(
                "select room_email, status, reason, detail from raw.room_sync_results"
                " where run_id = %s",
                (result.run_id,),
            ).fetchall()
    return failures, {r[0].lower(): r[1:] for r in rows}


# ---------------------------------------------------------------- the state machine


@dataclass
class Context:
    monkeypatch: pytest.MonkeyPatch
    folder: Path
    admin_url: str
    data_dir: Path
    examples: int = 0


class LoadAndSyncMachine(RuleBasedStateMachine):
    """One example: a fresh tenant, simulator server and database; the model starts empty."""

    events = Bundle("events")
    ctx: Context  # set by the test before hypothesis builds machines

    def __init__(self) -> None:
        super().__init__()
        ctx = self.ctx
        ctx.examples += 1
        self.tenant = new_tenant()
        self.zones = registry_zones(self.tenant.registry_csv())
        self.rooms = pick_rooms(self.tenant)
        assert self.rooms == ROOMS
        self.db = f"roomcal_pbt_{os.getpid()}_{ctx.examples}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(ctx.admin_url, autocommit=True) as conn:
            conn.execute(f'create database "{self.db}"')
        self.url = psycopg.conninfo.make_conninfo(ctx.admin_url, dbname=self.db)
        self.server = SimulatorServer(self.tenant).start()
        folder = ctx.folder / f"example-{ctx.examples}"
        folder.mkdir(parents=True, exist_ok=True)
        rooms_file = folder / "rooms.csv"
        rooms_file.write_text(self.tenant.registry_csv(), encoding="utf-8")
        env = ctx.monkeypatch
        env.setenv("ROOMCAL_GRAPH_BASE_URL", self.server.base_url)
        env.setenv("ROOMCAL_GRAPH_TOKEN", "sim-token")
        env.setenv("ROOMCAL_ROOMS_FILE", str(rooms_file))
        env.setenv("ROOMCAL_DATABASE_URL", self.url)
        env.setenv("ROOMCAL_HISTORY_START", "2024-01-01")  # the fixed tenant dates stay valid
        # The model: per room, event id -> the row raw must hold (Rec), and why.
        self.raw: dict[str, dict[str, Expect]] = {e: {} for e in self.rooms}
        self.covered: dict[str, set[date]] = {e: set() for e in self.rooms}
        self.known: dict[EventRef, Rec] = {}  # current tenant state of targetable events
        self.run_dates: set[date] = set()
        self.sync_offset = 0
        self.step = 0
        self.pending = 0  # tenant changes since the last pipeline step
        self.named = 0  # events put in the bundle: hypothesis prints them as events_<n>
        self.pipeline_seconds = 0.0
        self.registered = False

    def teardown(self) -> None:
        self.server.stop()
        with psycopg.connect(self.ctx.admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{self.db}" with (force)')
        print(
            f"example {self.ctx.examples}: {self.step} steps, "
            f"{self.pipeline_seconds:.0f} s in the pipeline"
        )

    # ------------------------------------------------------------------ helpers
    def label(self, email: str) -> str:
        return email.split("@")[0]

    def show(self, rec: Rec, email: str) -> str:
        zone = self.zones[email]
        s, e = rec.start.astimezone(zone), rec.end.astimezone(zone)
        flags = [rec.type or "?", rec.show_as or "?"]
        if rec.all_day:
            flags.insert(0, "all-day")
        if rec.cancelled:
            flags.append("cancelled")
        return f"{s:%m-%d %H:%M}->{e:%m-%d %H:%M} {zone.key} ({', '.join(flags)})"

    def bundle_name(self) -> str:
        self.named += 1
        return f"events_{self.named - 1}"

    def truth(self, email: str, ws: datetime, we: datetime) -> dict[str, Rec]:
        """The tenant's events overlapping [ws, we), by id (read wider, filtered here)."""
        zone = self.zones[email]
        out: dict[str, Rec] = {}
        for event in self.tenant.calendar_view(email, ws - TRUTH_LOOKBACK, we + timedelta(days=1)):
            rec = decode(event, zone)
            if overlaps(rec.start, rec.end, ws, we):
                assert event["id"] not in out, f"ground truth repeats id {event['id']}"
                out[event["id"]] = rec
        return out

    def lookup(self, ref: EventRef, around: datetime) -> Rec:
        found = self.truth(ref.room, around - timedelta(days=8), around + timedelta(days=8))
        assert ref.id in found, f"{ref} not in the tenant near {around}"
        return found[ref.id]

    def ensure_registered(self) -> None:
        """raw.rooms must exist before a sync (a `roomcal run` writes it too)."""
        if self.registered:
            return
        from roomcal_pipeline.config.registry import parse_registry
        from roomcal_pipeline.warehouse.rooms import replace_rooms
        from roomcal_pipeline.warehouse.schema import migrate

        rooms, _ = parse_registry(self.tenant.registry_csv())
        with psycopg.connect(self.url) as conn:
            migrate(conn)
            replace_rooms(conn, rooms)
        self.registered = True

    def apply_window(self, email: str, first: date, end: date, origin: str) -> None:
        """The ownership rule for one room after a successful run or sync of [first, end)."""
        zone = self.zones[email]
        ws, we = local_window(zone, first, end)
        returned = self.truth(email, ws, we)
        kept = {
            eid: expect
            for eid, expect in self.raw[email].items()
            if eid not in returned and not overlaps(expect.rec.start, expect.rec.end, ws, we)
        }
        # For the report only: did the simulator's own view of exactly W serve the event?
        served = {e["id"] for e in self.tenant.calendar_view(email, ws, we)}
        kept.update({eid: Expect(rec, origin, eid in served) for eid, rec in returned.items()})
        self.raw[email] = kept
        self.covered[email] |= {first + timedelta(days=n) for n in range((end - first).days)}

    def pipeline(self, what: str, first: date, end: date, call, windows=None) -> None:
        """Run a pipeline step; `windows` gives each room its own [first, end) (a sync)."""
        self.step += 1
        self.pending = 0
        origin = f"step {self.step} {what} [{first}, {end})"
        started = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - started
        self.pipeline_seconds += seconds
        failures, results = run_outcome(result, self.url)
        note(f"{origin}: {seconds:.0f} s, success={result.success}")
        print(f"{origin}: {seconds:.0f} s")
        assert result.success, f"{origin}: the Dagster run failed: {failures}"
        not_synced = {
            e: results.get(e) for e in self.rooms if (results.get(e) or ("",))[0] != "synced"
        }
        assert not not_synced, f"{origin}: rooms not synced: {not_synced}"
        for email in self.rooms:
            self.apply_window(email, *(windows[email] if windows else (first, end)), origin)

    # ------------------------------------------------------------- initialisation
    @initialize(target=events, specs=st.lists(ADD_SPECS, max_size=4))
    def seed_known_events(self, specs):
        """Targets among the generated calendars: per room, up to four events around today
        (an all-day event and a recurring occurrence when there are some); then up to four
        added events (the generated calendars have no event across midnight)."""
        refs = []
        for email in self.rooms:
            zone = self.zones[email]
            ws, we = local_window(zone, TODAY - timedelta(days=9), TODAY + timedelta(days=12))
            found = sorted(self.truth(email, ws, we).items(), key=lambda kv: (kv[1].start, kv[0]))
            today_at, later_at = (
                local_midnight(TODAY, zone),
                local_midnight(TODAY + timedelta(days=4), zone),
            )
            chosen: dict[str, Rec] = {}
            for wanted in (
                lambda r: r.all_day,
                lambda r: r.type == "occurrence",
                lambda r, at=today_at: r.start < at,
                lambda r, at=later_at: r.start >= at,
            ):
                hit = next((kv for kv in found if wanted(kv[1]) and kv[0] not in chosen), None)
                if hit:
                    chosen[hit[0]] = hit[1]
            for eid, rec in chosen.items():
                ref = EventRef(email, eid)
                self.known[ref] = rec
                refs.append(ref)
                note(f"{self.bundle_name()} = known {ref}: {self.show(rec, email)}")
        refs += [self.add_spec(spec) for spec in specs]
        self.pending = len(specs)  # a run may come first
        return multiple(*refs)

    # ------------------------------------------------------------ tenant changes
    # At most MAX_PENDING changes in a row: then a pipeline step (the expensive part, and
    # what the test is about) must come; short examples still interleave both.
    def may_change(self) -> bool:
        return self.pending < MAX_PENDING

    def changed(self) -> None:
        self.step += 1
        self.pending += 1

    @precondition(may_change)
    @rule(target=events, spec=ADD_SPECS)
    def add(self, spec):
        self.changed()
        return self.add_spec(spec)

    def add_spec(self, spec) -> EventRef:
        zone = self.zones[spec.room]
        body = spec_event(spec, zone)
        event_id = self.tenant.add_event(spec.room, body)
        ref = EventRef(spec.room, event_id)
        rec = self.lookup(ref, wall_time(body["start"]["dateTime"]).replace(tzinfo=zone))
        if isinstance(spec, AllDay):  # the model's own dates, not the simulator's
            day = TODAY + timedelta(days=spec.day)
            assert (rec.start, rec.end) == local_window(
                zone, day, day + timedelta(days=spec.days)
            ), f"the simulator moved all-day {spec}: {self.show(rec, spec.room)}"
        self.known[ref] = rec
        note(f"{self.bundle_name()} = step {self.step} add {ref}: {self.show(rec, spec.room)}")
        return ref

    @precondition(may_change)
    @rule(
        ref=events,
        days=st.integers(-9, 9).filter(lambda d: d != 0),
        minutes=st.sampled_from([0, 0, 45, -90, 150]),
    )
    def move(self, ref, days, minutes):
        self.changed()
        rec = self.known[ref]
        zone = self.zones[ref.room]
        if rec.all_day:  # whole local dates
            first = rec.start.astimezone(zone).date() + timedelta(days=days)
            span = rec.end.astimezone(zone).date() - rec.start.astimezone(zone).date()
            new_start = datetime.combine(first, datetime.min.time(), zone)
            new_end = datetime.combine(first + span, datetime.min.time(), zone)
        else:
            new_start = rec.start + timedelta(days=days, minutes=minutes)
            new_end = new_start + (rec.end - rec.start)
        self.tenant.move_event(ref.room, ref.id, new_start, new_end)
        self.known[ref] = moved = self.lookup(ref, new_start)
        note(
            f"step {self.step} move {ref}: {self.show(rec, ref.room)} => {self.show(moved, ref.room)}"
        )

    @precondition(may_change)
    @rule(ref=events)
    def cancel(self, ref):
        self.changed()
        self.tenant.cancel_event(ref.room, ref.id)
        self.known[ref] = rec = self.lookup(ref, self.known[ref].start)
        note(f"step {self.step} cancel {ref}: {self.show(rec, ref.room)}")

    @precondition(may_change)
    @rule(ref=consumes(events))
    def delete(self, ref):
        self.changed()
        self.tenant.delete_event(ref.room, ref.id)
        rec = self.known.pop(ref)
        note(f"step {self.step} delete {ref}: was {self.show(rec, ref.room)}")

    # ------------------------------------------------------------- pipeline runs
    # A run follows a change (an idle run costs 30 s and checks what a re-run checks);
    # a re-run of a partition and a sync may come at any time (idempotency, idle deltas).
    @precondition(lambda self: self.pending > 0)
    @rule(first=st.integers(RUN_FIRST, RUN_END - 1), length=st.integers(1, 10))
    def run(self, first, length):
        self.run_dates_from(first, length, "roomcal run")

    def run_dates_from(self, first: int, length: int, what: str) -> None:
        start = TODAY + timedelta(days=first)
        end = TODAY + timedelta(days=min(first + length, RUN_END))
        self.pipeline(
            what,
            start,
            end,
            lambda: run_assets(
                start, end, self.ctx.data_dir, rooms=self.rooms, log_level="WARNING"
            ),
        )
        self.run_dates |= {start + timedelta(days=n) for n in range((end - start).days)}

    @precondition(lambda self: self.pending > 0)
    @rule(ref=events, shift=st.integers(0, 2), length=st.integers(1, 10))
    def run_across(self, ref, shift, length):
        """A run whose window starts `shift` days after the local date an event starts on:
        with shift > 0 an overnight, multi-day or all-day event starts before the window."""
        zone = self.zones[ref.room]
        first = (self.known[ref].start.astimezone(zone).date() - TODAY).days + shift
        first = max(RUN_FIRST, min(RUN_END - 1, first))
        self.run_dates_from(first, length, f"roomcal run across {ref}")

    @precondition(lambda self: self.run_dates)
    @rule(pick=st.integers(0, 30))
    def rerun_partition(self, pick):
        day = sorted(self.run_dates)[pick % len(self.run_dates)]
        end = day + timedelta(days=1)
        self.pipeline(
            "re-run of one partition",
            day,
            end,
            lambda: run_assets(day, end, self.ctx.data_dir, rooms=self.rooms, log_level="WARNING"),
        )

    @rule(advance=st.sampled_from([0, 0, 1, 2, 4]))
    def sync(self, advance):
        self.sync_offset = min(SYNC_MAX_ADVANCE, self.sync_offset + advance)
        today = TODAY + timedelta(days=self.sync_offset)
        windows = {email: sync_window(email, today) for email in self.rooms}
        self.ensure_registered()
        self.pipeline(
            f"roomcal sync (today {today})",
            min(w[0] for w in windows.values()),
            max(w[1] for w in windows.values()),
            lambda: run_sync(self.ctx.data_dir, rooms=self.rooms, today=today),
            windows,
        )

    # ------------------------------------------------------------------ the check
    @invariant()
    def warehouse_matches_model(self):
        problems: list[str] = []
        stored, dupes = read_raw(self.url)
        if dupes:
            problems.append(f"raw.room_events: {dupes} duplicated (room_email, event_id) keys")
        for email in sorted(set(stored) - set(self.rooms)):
            problems.append(
                f"raw.room_events: {len(stored[email])} rows of unexpected room {email}"
            )
        for email in self.rooms:
            want, have = self.raw[email], stored.get(email, {})
            room = self.label(email)
            for eid in sorted(set(want) - set(have)):
                rec, why, served = want[eid]
                problems.append(
                    f"raw {room} ...{eid[-8:]} missing: want {self.show(rec, email)}"
                    f" [expected since {why}"
                    + ("" if served else "; the simulator's calendar_view of that window omits it")
                    + "]"
                )
            for eid in sorted(set(have) - set(want)):
                problems.append(
                    f"raw {room} ...{eid[-8:]} unexpected: has {self.show(have[eid], email)}"
                )
            for eid in sorted(set(want) & set(have)):
                rec, why, _ = want[eid]
                if rec.key() != have[eid].key():
                    problems.append(
                        f"raw {room} ...{eid[-8:]} differs: has {self.show(have[eid], email)},"
                        f" want {self.show(rec, email)} [since {why}]"
                    )

        want_marts: dict[tuple, str] = {}
        for email in self.rooms:
            zone = self.zones[email]
            for eid, (rec, why, _) in self.raw[email].items():
                if rec.is_booking() and local_dates(rec, zone) & self.covered[email]:
                    want_marts[(email, eid, rec.start, rec.end)] = why
        have_marts = read_marts(self.url)
        for key in sorted(set(want_marts) - have_marts):
            email, eid, s, e = key
            problems.append(
                f"fct_room_bookings {self.label(email)} ...{eid[-8:]} missing:"
                f" {self.show(self.raw[email][eid][0], email)} [raw row since {want_marts[key]}]"
            )
        for key in sorted(have_marts - set(want_marts)):
            email, eid, s, e = key
            zone = self.zones.get(email, UTC)
            problems.append(
                f"fct_room_bookings {self.label(email)} ...{eid[-8:]} unexpected:"
                f" {s.astimezone(zone):%m-%d %H:%M}->{e.astimezone(zone):%m-%d %H:%M}"
            )
        if problems:
            shown = problems[:40] + (
                [f"... and {len(problems) - 40} more"] if len(problems) > 40 else []
            )
            raise AssertionError(
                f"after step {self.step}: {len(problems)} differences from the model\n"
                + "\n".join(shown)
            )


# ------------------------------------------------------------------------ the test


# Each step may run the pipeline (up to ~40 s); a shrinking replays many of them.
@pytest.mark.timeout(max(600, EXAMPLES * STEPS * 60 + (1200 if SHRINK else 0)))
def test_random_changes_runs_and_syncs_match_the_model(server_warehouse_url, roomcal_env, tmp_path):
    if RUN_END - RUN_FIRST < 10:
        pytest.skip(f"the clock is before {TODAY + timedelta(days=RUN_FIRST + 10)}")
    LoadAndSyncMachine.ctx = Context(
        monkeypatch=roomcal_env,
        folder=tmp_path,
        admin_url=server_warehouse_url,
        data_dir=Path(os.environ["ROOMCAL_DATA_DIR"]),
    )
    machine = LoadAndSyncMachine
    if SEED != "random":
        machine = seed(int(SEED))(machine)
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if SHRINK else [])
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=False,
            database=None,
            phases=phases,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        ),
    )
