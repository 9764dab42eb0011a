"""Near-real-time sync of a rolling window through calendarView delta queries.

Per room, one delta round is read to its deltaLink, then applied in one
transaction together with that link: a crash before the commit leaves the old
rows and the old link, so the next sync repeats the round and converges. The
first round of a window (or one after 410 SyncStateNotFound / resyncRequired)
replaces the room's window like a partition load; later rounds upsert changed
events and delete `@removed` ones. Delta ignores `$select`: every page went
through the allowlist in GraphClient.calendar_view_delta.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from roomcal_pipeline.config.registry import Room
from roomcal_pipeline.extraction.load import RoomSyncResult, for_each_room, local_window
from roomcal_pipeline.extraction.rows import RAW_EVENT_COLUMNS, RejectedEvent, event_row
from roomcal_pipeline.graph.client import GraphClient, RequestStats
from roomcal_pipeline.graph.errors import ERROR, NO_EMAIL, GraphRequestError, scrub

DEFAULT_DAYS_BACK = 7
DEFAULT_DAYS_AHEAD = 28
_RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
_COLUMNS = ", ".join(RAW_EVENT_COLUMNS)
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


def _local_date(value: datetime, zone: ZoneInfo) -> date:
    return value.astimezone(zone).date()


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
) -> list[RoomSyncResult]:
    async def one(conn, room: Room) -> RoomSyncResult:
        return await _sync_room(conn, client, room, start_date, end_date, run_id)

    return await for_each_room(rooms, database_url, one, room_concurrency, on_room_done)


async def _sync_room(conn, client, room: Room, start_date, end_date, run_id) -> RoomSyncResult:
    result = RoomSyncResult(room.key, room.email, room.name, status="not_synced")
    if not room.email:
        result.reason, result.detail = NO_EMAIL, "the registry row has no email"
        return result
    ws, we = local_window(room, start_date, end_date)
    row = await (
        await conn.execute(
            "select delta_link from raw.delta_state"
            " where room_email = %s and window_start = %s and window_end = %s",
            (room.email, ws, we),
        )
    ).fetchone()
    link = row[0] if row else None
    try:
        try:
            round_ = await _read_round(client, room.email, ws, we, link)
        except GraphRequestError as exc:
            if link is None or not needs_resync(exc):
                raise
            link = None  # expired or invalid sync state: read the whole window again
            round_ = await _read_round(client, room.email, ws, we, None)
        loaded, quarantined, changed = await _apply(
            conn, room, ws, we, round_, full=link is None, run_id=run_id
        )
    except GraphRequestError as exc:
        result.reason, result.detail = exc.reason, exc.detail
    except Exception as exc:  # one bad room never stops the others
        result.reason, result.detail = ERROR, scrub(type(exc).__name__)
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await conn.rollback()
    else:
        result.status = "synced"
        result.events_loaded, result.events_quarantined = loaded, quarantined
        result.changes = len(round_.upserts) + len(round_.removed)
        result.changed_dates = changed
    result.stats = client.stats.pop(room.email, RequestStats())
    result.finished_at = datetime.now(UTC)
    return result


async def _apply(conn, room: Room, ws, we, round_: _Round, *, full: bool, run_id: str):
    """Apply one delta round and store its deltaLink, in one transaction."""
    zone = ZoneInfo(room.timezone)
    email = room.email
    removed = sorted(round_.removed)
    async with conn.transaction():
        if full:
            await conn.execute("delete from raw.series_masters where room_email = %s", (email,))
        async with conn.cursor() as cur:
            if round_.masters:
                await cur.executemany(
                    "insert into raw.series_masters (room_email, event_id, event)"
                    " values (%s, %s, %s) on conflict (room_email, event_id)"
                    " do update set event = excluded.event, updated_at = now()",
                    [(email, mid, Jsonb(m)) for mid, m in round_.masters.items()],
                )
            if removed:
                await cur.execute(
                    "delete from raw.series_masters where room_email = %s and event_id = any(%s)",
                    (email, removed),
                )
        masters = dict(round_.masters)
        wanted = {
            e["seriesMasterId"]
            for e in round_.upserts
            if "organizer" not in e and isinstance(e.get("seriesMasterId"), str)
        } - set(masters)
        if wanted:
            stored = await conn.execute(
                "select event_id, event from raw.series_masters"
                " where room_email = %s and event_id = any(%s)",
                (email, sorted(wanted)),
            )
            masters.update({event_id: event for event_id, event in await stored.fetchall()})

        rows, quarantined = [], []
        for event in round_.upserts:
            try:
                rows.append(
                    event_row(email, _complete(event, masters.get(event.get("seriesMasterId"))))
                )
            except RejectedEvent as exc:
                quarantined.append((event.get("id"), str(exc)))
        in_window = [r for r in rows if ws <= r[5] < we]
        touched = sorted({r[1] for r in rows} | set(removed) | {q[0] for q in quarantined if q[0]})

        old_starts = await conn.execute(
            "select start_at from raw.room_events where room_email = %s"
            " and (event_id = any(%s) or series_master_id = any(%s))",
            (email, touched, removed),
        )
        changed = {_local_date(r[0], zone) for r in await old_starts.fetchall()}
        changed |= {_local_date(r[5], zone) for r in in_window}
        if full:
            first, last = _local_date(ws, zone), _local_date(we, zone)
            changed |= {first + timedelta(days=n) for n in range((last - first).days)}
            await conn.execute(
                "delete from raw.room_events where room_email = %s and start_at >= %s and start_at < %s",
                (email, ws, we),
            )
            await conn.execute(
                "delete from raw.quarantined_events where room_email = %s"
                " and window_start >= %s and window_end <= %s",
                (email, ws, we),
            )
        await conn.execute(
            "delete from raw.room_events where room_email = %s"
            " and (event_id = any(%s) or series_master_id = any(%s))",
            (email, touched, removed),
        )
        async with conn.cursor().copy(f"copy raw.room_events ({_COLUMNS}) from stdin") as copy:
            for row in in_window:
                await copy.write_row(row)
        if quarantined:
            async with conn.cursor().copy(
                "copy raw.quarantined_events"
                " (room_email, event_id, reason, window_start, window_end, run_id) from stdin"
            ) as copy:
                for event_id, reason in quarantined:
                    await copy.write_row((email, event_id, reason, ws, we, run_id))
        await conn.execute(
            "insert into raw.delta_state (room_email, window_start, window_end, delta_link)"
            " values (%s, %s, %s, %s) on conflict (room_email) do update set"
            " window_start = excluded.window_start, window_end = excluded.window_end,"
            " delta_link = excluded.delta_link, updated_at = now()",
            (email, ws, we, round_.delta_link),
        )
    return len(in_window), len(quarantined), changed
