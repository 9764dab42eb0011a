"""Near-real-time sync of a rolling window through calendarView delta queries.

Per room, one delta round is read to its deltaLink with no transaction open, then
applied by `unit_of_work.apply_read` in one transaction together with that link: a
crash before the commit leaves the old rows and the old link, so the next sync repeats
the round and converges. The first round of a window (or one after 410
SyncStateNotFound / resyncRequired) is a complete read of the window, like a partition
load; later rounds upsert changed events and delete `@removed` ones, wherever they
start.

A delta round is bound to its window, so a window that moved with "today" would be read
in full every day. Each room keeps one window for RESTART_DAYS days instead
(`sync_window`): it covers the rolling window [today - days_back, today + days_ahead)
of every day until the room's next restart day, which is its own (from its email), so
on any day about 1/RESTART_DAYS of the rooms read their new window in full and every
other room costs one request when nothing changed. Delta ignores `$select`: every page went through the allowlist in
GraphClient.calendar_view_delta.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from roomcal_pipeline.config.registry import Room
from roomcal_pipeline.extraction.rows import RejectedEvent, event_row
from roomcal_pipeline.extraction.unit_of_work import (
    RoomRead,
    for_each_room,
    local_window,
    sync_room,
)
from roomcal_pipeline.graph.client import GraphClient
from roomcal_pipeline.graph.errors import GraphRequestError
from roomcal_pipeline.warehouse.sync_results import RoomSyncResult

DEFAULT_DAYS_BACK = 7
DEFAULT_DAYS_AHEAD = 28
DEFAULT_RESTART_DAYS = 28
_RESTART_EPOCH = date(2024, 1, 1)  # day 0 of every room's restart cycle
_RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
# What a delta page may leave out of an occurrence, completed from its series master.
_MASTER_FIELDS = (
    "organizer",
    "attendees",
    "location",
    "locations",
    "sensitivity",
    "showAs",
    "isAllDay",
    "isCancelled",
    "createdDateTime",
    "lastModifiedDateTime",
    "onlineMeetingProvider",
    "is_online_meeting",
)


def rolling_window(today: date, days_back: int, days_ahead: int) -> tuple[date, date]:
    return today - timedelta(days=days_back), today + timedelta(days=days_ahead)


def restart_offset(email: str, restart_days: int = DEFAULT_RESTART_DAYS) -> int:
    """The day of the cycle on which a room starts a new delta window: CRC-32 of its
    lower-cased email, modulo the cycle, so restarts spread evenly over the days."""
    return zlib.crc32(email.lower().encode()) % restart_days


def sync_window(
    email: str,
    today: date,
    days_back: int = DEFAULT_DAYS_BACK,
    days_ahead: int = DEFAULT_DAYS_AHEAD,
    restart_days: int = DEFAULT_RESTART_DAYS,
) -> tuple[date, date]:
    """The local dates [first, end) of a room's delta window on `today`: from days_back
    before its last restart day to days_ahead after the day before its next one. It
    holds `rolling_window(d, days_back, days_ahead)` for every day d of the cycle, and
    changes (a new delta round, read in full) only on the room's restart day."""
    offset = restart_offset(email, restart_days)
    restart = today - timedelta(days=((today - _RESTART_EPOCH).days - offset) % restart_days)
    return (
        restart - timedelta(days=days_back),
        restart + timedelta(days=restart_days + days_ahead),
    )


def needs_resync(exc: GraphRequestError) -> bool:
    return exc.status == 410 or exc.code.lower() in _RESYNC_CODES


@dataclass
class _Round:
    delta_link: str
    upserts: list[dict]
    removed: set[str]
    masters: dict[str, dict]


async def _read_round(client, email, start, end, link) -> _Round:
    upserts: dict[str, dict] = {}
    removed: set[str] = set()
    masters: dict[str, dict] = {}
    final = None
    async for events, delta_link in client.calendar_view_delta(email, start, end, link):
        for event in events:
            event_id = event.get("id")
            if not isinstance(event_id, str):
                continue
            if "@removed" in event:
                removed.add(event_id)
                upserts.pop(event_id, None)
                masters.pop(event_id, None)
            elif event.get("type") == "seriesMaster":
                masters[event_id] = event
                removed.discard(event_id)
            else:
                upserts[event_id] = event  # a later page's version of an event wins
                removed.discard(event_id)
        final = delta_link or final
    return _Round(final, list(upserts.values()), removed, masters)


def _complete(event: dict, master: dict | None) -> dict:
    """An occurrence from a delta page, with what it left out taken from its master."""
    if master is None or "organizer" in event:
        return event
    merged = {k: master[k] for k in _MASTER_FIELDS if k in master}
    merged.update({k: v for k, v in event.items() if k != "is_online_meeting"})
    return merged


async def sync_rooms(
    rooms: Sequence[Room],
    client: GraphClient,
    database_url: str,
    run_id: str,
    start_date: date,
    end_date: date,
    *,
    room_concurrency: int = 8,
    on_room_done: Callable[[RoomSyncResult, int, int], None] | None = None,
    window_for: Callable[[Room], tuple[date, date]] | None = None,
) -> list[RoomSyncResult]:
    """One delta round per room over the local dates [start_date, end_date), or over the
    room's own `window_for(room)` (which holds that range; `sync_window`)."""

    async def read(conn, room: Room, zone: ZoneInfo) -> RoomRead:
        first, end = window_for(room) if window_for else (start_date, end_date)
        return await read_delta(conn, client, room.email, zone, *local_window(room, first, end))

    async def one(conn, room: Room) -> RoomSyncResult:
        result = await sync_room(conn, client, room, read, run_id)
        if window_for is not None and room.email:
            result.window = window_for(room)
        return result

    return await for_each_room(rooms, database_url, one, room_concurrency, on_room_done)


async def read_delta(
    conn: psycopg.AsyncConnection,
    client: GraphClient,
    email: str,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
) -> RoomRead:
    """One delta round of the room's window, to its deltaLink. The first round of a window
    (or one after an expired sync state) is complete; later ones carry only changes.
    `conn` is in autocommit: its two lookups hold no transaction while Graph is asked."""
    row = await (
        await conn.execute(
            "select delta_link, window_start, window_end from raw.delta_state"
            " where room_email = %s",
            (email,),
        )
    ).fetchone()
    previous = (row[1], row[2]) if row else None
    link = row[0] if row and previous == (window_start, window_end) else None
    try:
        round_ = await _read_round(client, email, window_start, window_end, link)
    except GraphRequestError as exc:
        if link is None or not needs_resync(exc):
            raise
        link = None  # expired or invalid sync state: read the whole window again
        round_ = await _read_round(client, email, window_start, window_end, None)

    masters = dict(round_.masters)
    wanted = {
        e["seriesMasterId"]
        for e in round_.upserts
        if "organizer" not in e and isinstance(e.get("seriesMasterId"), str)
    } - set(masters)
    if wanted and link is not None:
        stored = await conn.execute(
            "select event_id, event from raw.series_masters"
            " where room_email = %s and event_id = any(%s)",
            (email, sorted(wanted)),
        )
        masters.update({event_id: event for event_id, event in await stored.fetchall()})

    got = RoomRead(
        window_start,
        window_end,
        complete=link is None,
        removed=round_.removed,
        masters=round_.masters,
        delta_link=round_.delta_link,
        previous_window=previous,
    )
    for event in round_.upserts:
        try:
            got.rows.append(
                event_row(email, _complete(event, masters.get(event.get("seriesMasterId"))), zone)
            )
        except RejectedEvent as exc:
            got.quarantined.append((event.get("id"), str(exc)))
    return got
