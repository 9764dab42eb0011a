"""Backfills and partitions: every registered room's calendar for a window of local dates.

Per room, the window is split into chunks read concurrently through calendarView (at
most 4 requests per mailbox); every event goes through the allowlist and becomes a row
as its page arrives. The read is complete (Graph returns every event overlapping each
chunk), so `unit_of_work.apply_read` replaces the room's rows overlapping the window
in one transaction, after the last page: no transaction is open while Graph is asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from roomcal_pipeline.config.registry import Room
from roomcal_pipeline.extraction.rows import RejectedEvent, event_row
from roomcal_pipeline.extraction.unit_of_work import (
    RoomRead,
    for_each_room,
    local_window,
    sync_room,
)
from roomcal_pipeline.graph.client import GraphClient
from roomcal_pipeline.warehouse.sync_results import RoomSyncResult

CHUNK_DAYS = 7


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

    async def read(conn, room: Room, zone: ZoneInfo) -> RoomRead:
        window_start, window_end = local_window(room, start_date, end_date)
        return await read_window(client, room.email, zone, window_start, window_end)

    async def one(conn, room: Room) -> RoomSyncResult:
        return await sync_room(conn, client, room, read, run_id)

    return await for_each_room(rooms, database_url, one, room_concurrency, on_room_done)


async def read_window(
    client: GraphClient, email: str, zone: ZoneInfo, window_start: datetime, window_end: datetime
) -> RoomRead:
    """Every event overlapping the window, read in chunks. An event that spans chunks
    comes back once per chunk and is kept once; one id with two different contents in
    the same read is quarantined as a duplicate id."""
    chunks = _chunks(window_start, window_end)
    per_chunk: list[list[tuple]] = [[] for _ in chunks]
    quarantined: list[tuple[str | None, str]] = []

    async def read_chunk(index: int, chunk_start: datetime, chunk_end: datetime) -> None:
        rows = per_chunk[index]
        async for events in client.calendar_view(email, chunk_start, chunk_end):
            for event in events:
                try:
                    rows.append(event_row(email, event, zone))
                except RejectedEvent as exc:
                    quarantined.append((_event_id(event), str(exc)))

    try:
        async with asyncio.TaskGroup() as group:  # one failed chunk cancels its siblings
            for index, (chunk_start, chunk_end) in enumerate(chunks):
                group.create_task(read_chunk(index, chunk_start, chunk_end))
    except* Exception as failures:
        raise failures.exceptions[0] from None

    kept: dict[str, tuple] = {}
    for rows in per_chunk:
        for row in rows:
            event_id = row[1]
            first = kept.get(event_id)
            if first is None:
                kept[event_id] = row
            elif first != row:
                quarantined.append((event_id, "duplicate id"))
    return RoomRead(window_start, window_end, True, list(kept.values()), quarantined=quarantined)


def _event_id(event: dict) -> str | None:
    value = event.get("id")
    return value if isinstance(value, str) else None
