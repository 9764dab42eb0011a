"""One room, one unit of work: read Graph with no transaction open, then apply what it
said in one transaction that commits the room's rows and its delta state together.

Backfills (calendarView, `load.py`) and delta sync (`delta.py`) differ only in how they
read; both hand a `RoomRead` to `apply_read`, so the rule below is written once.

Rule of row ownership for `raw.room_events` (per room):
- A row is owned by every window it overlaps (start < window end and end > window
  start; a zero-length row when its start lies in the window). Graph returns every
  event that overlaps the window it is asked for, including ones that start before
  it, and each is stored whole, with the parts outside the window.
- A read replaces rows by event id: what Graph returned is upserted, whatever window or
  chunk its start lies in.
- A row is deleted only when Graph says so: its id came back `@removed` (delta) or was
  quarantined, or a complete read of a window it overlaps (a partition, a backfill, the
  first round of a delta window) did not return it.
- Rows that do not overlap the window and were not named by the read are never touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from roomcal_pipeline.config.registry import Room
from roomcal_pipeline.extraction.rows import RAW_EVENT_COLUMNS
from roomcal_pipeline.graph.client import GraphClient, RequestStats
from roomcal_pipeline.graph.errors import ERROR, NO_EMAIL, GraphRequestError, scrub
from roomcal_pipeline.warehouse.sync_results import RoomSyncResult

_log = logging.getLogger(__name__)
_COLUMNS = ", ".join(RAW_EVENT_COLUMNS)
_R_COLUMNS = ", ".join(f"r.{c}" for c in RAW_EVENT_COLUMNS)
_I_COLUMNS = ", ".join(f"i.{c}" for c in RAW_EVENT_COLUMNS)
_OVERLAPS = (
    "((r.start_at < %(we)s and r.end_at > %(ws)s)"
    " or (r.start_at = r.end_at and r.start_at >= %(ws)s and r.start_at < %(we)s))"
)


class WarehouseUnavailable(RuntimeError):
    """The warehouse connection broke: no further room can commit, so the run stops.
    Rooms committed before keep their rows; the message never carries the URL."""


@dataclass
class RoomRead:
    """What one read of Graph said about one room's window, already allowlisted."""

    window_start: datetime
    window_end: datetime
    complete: bool  # every event overlapping the window came back (not a delta increment)
    rows: list[tuple] = field(default_factory=list)  # raw rows, one per event id
    removed: set[str] = field(default_factory=set)  # ids Graph reported gone
    quarantined: list[tuple[str | None, str]] = field(default_factory=list)  # (id, reason)
    masters: dict[str, dict] | None = None  # delta: allowlisted series masters seen
    delta_link: str | None = None  # delta: stored with the rows, in the same transaction
    # delta: the window of the room's previous delta state, whose dates were covered before
    previous_window: tuple[datetime, datetime] | None = None


def local_window(room: Room, start_date: date, end_date: date) -> tuple[datetime, datetime]:
    """[start_date 00:00, end_date 00:00) in the room's zone, as UTC instants."""
    zone = ZoneInfo(room.timezone)
    start = datetime.combine(start_date, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(end_date, datetime.min.time(), zone).astimezone(UTC)
    return start, end


def local_dates(spans, zone: ZoneInfo) -> set[date]:
    """Every local date that (start, end) spans overlap, end exclusive; a zero-length span
    is on its start date."""
    out: set[date] = set()
    for start, end in spans:
        first = start.astimezone(zone).date()
        last = (end - timedelta(microseconds=1)).astimezone(zone).date() if end > start else first
        out.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return out


async def for_each_room(
    rooms: Sequence[Room],
    database_url: str,
    work: Callable[[psycopg.AsyncConnection, Room], Awaitable[RoomSyncResult]],
    concurrency: int,
    on_room_done: Callable[[RoomSyncResult, int, int], None] | None = None,
) -> list[RoomSyncResult]:
    """Run `work` for every room on a few workers, each with its own autocommit connection
    (so each room's `apply_read` is a real transaction, never a savepoint). A broken
    warehouse stops every worker at once; results come back in registry order."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(rooms)):
        queue.put_nowait(index)
    results: list[RoomSyncResult | None] = [None] * len(rooms)
    done = 0

    async def worker() -> None:
        nonlocal done
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            while not queue.empty():
                index = queue.get_nowait()
                results[index] = result = await work(conn, rooms[index])
                done += 1
                if on_room_done is not None:
                    on_room_done(result, done, len(rooms))

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(rooms)))):
                group.create_task(worker())
    except* psycopg.OperationalError as failures:
        first = failures.exceptions[0]
        raise WarehouseUnavailable(
            f"the warehouse connection failed ({type(first).__name__}) after {done} of "
            f"{len(rooms)} rooms; the rooms committed before keep their rows, run again "
            "to finish"
        ) from None
    return [r for r in results if r is not None]


async def sync_room(
    conn: psycopg.AsyncConnection,
    client: GraphClient,
    room: Room,
    read: Callable[[psycopg.AsyncConnection, Room, ZoneInfo], Awaitable[RoomRead]],
    run_id: str,
) -> RoomSyncResult:
    """The one per-room unit of work: read (no transaction), apply (one transaction).
    Any failure leaves the room's previous rows and delta state as they were."""
    result = RoomSyncResult(room.key, room.email, room.name, status="not_synced")
    if not room.email:
        result.reason = NO_EMAIL
        result.detail = "the registry row has no email, so its calendar cannot be read"
        return result
    zone = ZoneInfo(room.timezone)
    try:
        got = await read(conn, room, zone)
        changed = await apply_read(conn, room.email, got, run_id)
    except GraphRequestError as exc:
        result.reason, result.detail = exc.reason, exc.detail
    except psycopg.OperationalError:
        if conn.broken or conn.closed:
            raise  # the warehouse is gone: for_each_room stops the run
        result.reason, result.detail = ERROR, "warehouse: OperationalError"
    except psycopg.Error as exc:  # this room's data or statement failed; others go on
        result.reason, result.detail = ERROR, scrub(f"warehouse: {type(exc).__name__}")
    except Exception as exc:  # one bad room never stops the others
        _log.error("room %s failed: %s", room.email, type(exc).__name__)
        result.reason, result.detail = ERROR, scrub(type(exc).__name__)
    else:
        result.status = "synced"
        result.events_loaded = len(got.rows)
        result.events_quarantined = len(got.quarantined)
        result.changes = len(got.rows) + len(got.removed)
        result.changed_dates = local_dates(changed, zone)
        result.read_in_full = got.complete
        if got.complete:  # dates newly covered by this window: their marts are due
            covered = local_dates([(got.window_start, got.window_end)], zone)
            if got.previous_window:
                covered -= local_dates([got.previous_window], zone)
            result.changed_dates |= covered
    result.stats = client.stats.pop(room.email, RequestStats())
    result.finished_at = datetime.now(UTC)
    return result


async def apply_read(
    conn: psycopg.AsyncConnection, email: str, got: RoomRead, run_id: str
) -> list[tuple[datetime, datetime]]:
    """Apply one read under the rule of row ownership, in one transaction with the room's
    delta state and series masters. Returns the (start, end) of every row that was
    deleted, changed (old and new) or inserted, for the marts to refresh their dates."""
    window = {"email": email, "ws": got.window_start, "we": got.window_end}
    gone = sorted(got.removed | {event_id for event_id, _ in got.quarantined if event_id})
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("apply_read needs a connection with no transaction open")
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(
            "create temp table if not exists incoming_events"
            " (like raw.room_events including defaults) on commit delete rows"
        )
        async with cur.copy(f"copy incoming_events ({_COLUMNS}) from stdin") as copy:
            for row in got.rows:
                await copy.write_row(row)
        touched: list[tuple[datetime, datetime]] = []
        if got.complete:
            await cur.execute(
                f"delete from raw.room_events r where r.room_email = %(email)s and {_OVERLAPS}"
                " and not exists (select 1 from incoming_events i where i.event_id = r.event_id)"
                " returning r.start_at, r.end_at",
                window,
            )
            touched += await cur.fetchall()
        if gone:
            await cur.execute(
                "delete from raw.room_events r where r.room_email = %s"
                " and (r.event_id = any(%s) or r.series_master_id = any(%s))"
                " returning r.start_at, r.end_at",
                (email, gone, sorted(got.removed)),
            )
            touched += await cur.fetchall()
        # Replace by id only what changed: an unchanged event is not rewritten, so re-runs
        # write little and the marts refresh only the dates whose rows moved.
        await cur.execute(
            "delete from raw.room_events r using incoming_events i"
            " where r.room_email = i.room_email and r.event_id = i.event_id"
            f" and ({_R_COLUMNS}) is distinct from ({_I_COLUMNS})"
            " returning r.start_at, r.end_at"
        )
        touched += await cur.fetchall()
        await cur.execute(
            f"insert into raw.room_events ({_COLUMNS}) select {_COLUMNS} from incoming_events"
            " on conflict (room_email, event_id) do nothing returning start_at, end_at"
        )
        touched += await cur.fetchall()
        await _record_quarantine(cur, email, got, run_id)
        await _record_delta_state(cur, email, got)
    return touched


async def _record_quarantine(cur, email: str, got: RoomRead, run_id: str) -> None:
    if got.complete:
        await cur.execute(
            "delete from raw.quarantined_events where room_email = %s"
            " and window_start >= %s and window_end <= %s",
            (email, got.window_start, got.window_end),
        )
    if got.quarantined:
        async with cur.copy(
            "copy raw.quarantined_events"
            " (room_email, event_id, reason, window_start, window_end, run_id) from stdin"
        ) as copy:
            for event_id, reason in got.quarantined:
                await copy.write_row(
                    (email, event_id, reason, got.window_start, got.window_end, run_id)
                )


async def _record_delta_state(cur, email: str, got: RoomRead) -> None:
    if got.masters is not None:
        if got.complete:
            await cur.execute("delete from raw.series_masters where room_email = %s", (email,))
        if got.masters:
            await cur.executemany(
                "insert into raw.series_masters (room_email, event_id, event)"
                " values (%s, %s, %s) on conflict (room_email, event_id)"
                " do update set event = excluded.event, updated_at = now()",
                [(email, mid, Jsonb(m)) for mid, m in got.masters.items()],
            )
        if got.removed:
            await cur.execute(
                "delete from raw.series_masters where room_email = %s and event_id = any(%s)",
                (email, sorted(got.removed)),
            )
    if got.delta_link is not None:
        await cur.execute(
            "insert into raw.delta_state (room_email, window_start, window_end, delta_link)"
            " values (%s, %s, %s, %s) on conflict (room_email) do update set"
            " window_start = excluded.window_start, window_end = excluded.window_end,"
            " delta_link = excluded.delta_link, updated_at = now()",
            (email, got.window_start, got.window_end, got.delta_link),
        )
