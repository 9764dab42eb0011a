"""Extract every registered room for a window of local dates and load it.

Per room: the window is split into chunks fetched concurrently (at most 4
requests per mailbox), pages stream into a temporary table with COPY, and one
transaction replaces the room's rows whose start lies in the window (and any
row whose key arrives again, so moved events do not duplicate). A failure
anywhere in a room rolls back that room only: its previous rows stay, the other
rooms go on, and the failure is a result with a reason code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from roomcal_pipeline.config.registry import Room
from roomcal_pipeline.extraction.rows import RAW_EVENT_COLUMNS, RejectedEvent, event_row
from roomcal_pipeline.graph.client import GraphClient, RequestStats
from roomcal_pipeline.graph.errors import ERROR, NO_EMAIL, GraphRequestError, scrub

CHUNK_DAYS = 7
_PAGE_QUEUE_SIZE = 8
_log = logging.getLogger(__name__)

_COLUMNS = ", ".join(RAW_EVENT_COLUMNS)


@dataclass
class RoomSyncResult:
    """The outcome of one room in one run (a row of raw.room_sync_results)."""

    room_key: str
    room_email: str | None
    room_name: str
    status: str  # synced | not_synced
    reason: str | None = None
    detail: str | None = None
    events_loaded: int = 0
    events_quarantined: int = 0
    stats: RequestStats = field(default_factory=RequestStats)
    changes: int = 0  # delta sync: events upserted or removed
    changed_dates: set[date] = field(default_factory=set)  # delta sync: local dates touched
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def local_window(room: Room, start_date: date, end_date: date) -> tuple[datetime, datetime]:
    """[start_date 00:00, end_date 00:00) in the room's zone, as UTC instants."""
    zone = ZoneInfo(room.timezone)
    start = datetime.combine(start_date, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(end_date, datetime.min.time(), zone).astimezone(UTC)
    return start, end


def _chunks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out, cursor = [], start
    while cursor < end:
        nxt = min(end, cursor + timedelta(days=CHUNK_DAYS))
        out.append((cursor, nxt))
        cursor = nxt
    return out


async def extract_rooms(
    rooms: Sequence[Room],
    start_date: date,
    end_date: date,
    client: GraphClient,
    database_url: str,
    run_id: str,
    *,
    room_concurrency: int = 8,
    on_room_done: Callable[[RoomSyncResult, int, int], None] | None = None,
) -> list[RoomSyncResult]:
    """Extract and load every room; returns one result per room, in registry order."""

    async def one(conn, room: Room) -> RoomSyncResult:
        return await _sync_room(conn, client, room, start_date, end_date, run_id)

    return await for_each_room(rooms, database_url, one, room_concurrency, on_room_done)


async def for_each_room(
    rooms: Sequence[Room],
    database_url: str,
    work: Callable[[psycopg.AsyncConnection, Room], Awaitable[RoomSyncResult]],
    concurrency: int,
    on_room_done: Callable[[RoomSyncResult, int, int], None] | None = None,
) -> list[RoomSyncResult]:
    """Run `work` for every room on a few workers, each with its own connection (a room's
    load is one transaction); results come back in registry order."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(rooms)):
        queue.put_nowait(index)
    results: list[RoomSyncResult | None] = [None] * len(rooms)
    done = 0

    async def worker() -> None:
        nonlocal done
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            while not queue.empty():
                index = queue.get_nowait()
                results[index] = result = await work(conn, rooms[index])
                done += 1
                if on_room_done is not None:
                    on_room_done(result, done, len(rooms))

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(rooms))))))
    return [r for r in results if r is not None]


async def _sync_room(
    conn: psycopg.AsyncConnection,
    client: GraphClient,
    room: Room,
    start_date: date,
    end_date: date,
    run_id: str,
) -> RoomSyncResult:
    result = RoomSyncResult(room.key, room.email, room.name, status="not_synced")
    if not room.email:
        result.reason = NO_EMAIL
        result.detail = "the registry row has no email, so its calendar cannot be read"
        return result
    window_start, window_end = local_window(room, start_date, end_date)
    try:
        loaded, quarantined = await _load_room(
            conn, client, room.email, window_start, window_end, run_id
        )
    except GraphRequestError as exc:
        result.reason, result.detail = exc.reason, exc.detail
    except psycopg.Error as exc:
        result.reason, result.detail = ERROR, scrub(f"warehouse: {type(exc).__name__}")
        await _reset(conn)
    except Exception as exc:  # one bad room never stops the others
        _log.exception("room %s failed", room.email)
        result.reason, result.detail = ERROR, scrub(f"{type(exc).__name__}")
        await _reset(conn)
    else:
        result.status = "synced"
        result.events_loaded, result.events_quarantined = loaded, quarantined
    result.stats = client.stats.pop(room.email, RequestStats())
    result.finished_at = datetime.now(UTC)
    return result


async def _reset(conn: psycopg.AsyncConnection) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        await conn.rollback()


async def _load_room(
    conn: psycopg.AsyncConnection,
    client: GraphClient,
    email: str,
    window_start: datetime,
    window_end: datetime,
    run_id: str,
) -> tuple[int, int]:
    pages: asyncio.Queue = asyncio.Queue(maxsize=_PAGE_QUEUE_SIZE)
    chunks = _chunks(window_start, window_end)

    async def produce(chunk_start: datetime, chunk_end: datetime) -> None:
        async for page in client.calendar_view(email, chunk_start, chunk_end):
            await pages.put((chunk_start, chunk_end, page))

    async def produce_all() -> None:
        try:
            async with asyncio.TaskGroup() as group:  # one failed chunk cancels its siblings
                for chunk_start, chunk_end in chunks:
                    group.create_task(produce(chunk_start, chunk_end))
        except ExceptionGroup as failures:
            raise failures.exceptions[0] from None
        finally:
            await pages.put(None)

    fetch = asyncio.create_task(produce_all())
    seen: set[str] = set()
    quarantined: list[tuple[str | None, str]] = []
    loaded = 0
    try:
        async with conn.transaction():
            await conn.execute(
                "create temp table if not exists incoming_events "
                "(like raw.room_events including defaults) on commit delete rows"
            )
            async with conn.cursor().copy(f"copy incoming_events ({_COLUMNS}) from stdin") as copy:
                write_row, seen_add = copy.write_row, seen.add  # once per event: no lookups
                while True:
                    item = await pages.get()
                    if item is None:
                        break
                    chunk_start, chunk_end, events = item
                    for event in events:
                        try:
                            row = event_row(email, event)
                        except RejectedEvent as exc:
                            quarantined.append((_event_id(event), str(exc)))
                            continue
                        # calendarView returns every event overlapping the chunk;
                        # a row belongs to the chunk that holds its start.
                        if not (chunk_start <= row[5] < chunk_end):
                            continue
                        event_id = row[1]
                        if event_id in seen:
                            quarantined.append((event_id, "duplicate id"))
                            continue
                        seen_add(event_id)
                        await write_row(row)
                        loaded += 1
            await fetch  # re-raises the first fetch failure: the transaction rolls back
            await _replace_window(conn, email, window_start, window_end, run_id, quarantined)
    finally:
        fetch.cancel()
        await asyncio.gather(fetch, return_exceptions=True)
    return loaded, len(quarantined)


async def _replace_window(conn, email, window_start, window_end, run_id, quarantined) -> None:
    await conn.execute(
        "delete from raw.room_events where room_email = %s and start_at >= %s and start_at < %s",
        (email, window_start, window_end),
    )
    await conn.execute(
        "delete from raw.room_events r using incoming_events i "
        "where r.room_email = i.room_email and r.event_id = i.event_id"
    )
    await conn.execute(
        f"insert into raw.room_events ({_COLUMNS}) select {_COLUMNS} from incoming_events"
    )
    await conn.execute(
        "delete from raw.quarantined_events where room_email = %s "
        "and window_start >= %s and window_end <= %s",
        (email, window_start, window_end),
    )
    if quarantined:
        async with conn.cursor().copy(
            "copy raw.quarantined_events (room_email, event_id, reason, window_start, window_end, run_id)"
            " from stdin"
        ) as copy:
            for event_id, reason in quarantined:
                await copy.write_row((email, event_id, reason, window_start, window_end, run_id))


def _event_id(event: dict) -> str | None:
    value = event.get("id")
    return value if isinstance(value, str) else None
