"""The raw room events asset: every registered room's calendar for a window of local dates."""

import asyncio
from collections import Counter
from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    multi_asset,
)
from pydantic import Field

from roomcal_pipeline.defs.partitions import daily_partitions
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.extraction.load import RoomSyncResult, extract_rooms
from roomcal_pipeline.graph.client import RequestStats
from roomcal_pipeline.quality.raw_events import validate_run
from roomcal_pipeline.warehouse.rooms import read_rooms
from roomcal_pipeline.warehouse.sync_results import record_results

RAW_ROOM_EVENTS = AssetKey(["raw", "room_events"])
RAW_ROOM_SYNC_RESULTS = AssetKey(["raw", "room_sync_results"])


class ExtractionConfig(Config):
    rooms: list[str] = Field(
        default_factory=list,
        description="Only these rooms (emails or registry keys); empty means every registered room.",
    )


@multi_asset(
    specs=[
        AssetSpec(
            RAW_ROOM_EVENTS,
            deps=[AssetKey(["raw", "rooms"])],
            description="Room calendar events with only the SPEC section 4 attributes, "
            "one row per room and event; a row belongs to the local date of its start.",
            kinds={"postgres"},
            group_name="extraction",
        ),
        AssetSpec(
            RAW_ROOM_SYNC_RESULTS,
            deps=[AssetKey(["raw", "rooms"])],
            description="One row per run and registered room: synced or not, with the reason.",
            kinds={"postgres"},
            group_name="extraction",
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            "events_valid",
            asset=RAW_ROOM_EVENTS,
            blocking=True,
            description="Great Expectations suite on the window this run loaded: keys present "
            "and unique per room, end after start, plausible durations, allowed type/showAs/"
            "sensitivity, only allowlisted columns, row count equal to what Graph returned. "
            "Blocks the marts when it fails.",
        ),
        AssetCheckSpec(
            "no_quarantined_events",
            asset=RAW_ROOM_EVENTS,
            description="Warns when events of this window could not be parsed or failed a "
            "row-level expectation: they are set aside in raw.quarantined_events, the rest loads.",
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    retry_policy=RetryPolicy(max_retries=1, delay=30),
    can_subset=False,
)
def room_events(context: AssetExecutionContext, config: ExtractionConfig, roomcal: RoomcalResource):
    window = context.partition_time_window
    start_date, end_date = window.start.date(), window.end.date()
    with roomcal.connect() as conn:
        rooms = read_rooms(conn, config.rooms or None)
    if not rooms:
        raise ValueError(
            "no registered room to extract: materialize raw/rooms first"
            + (f" (or check the room selection {config.rooms})" if config.rooms else "")
        )
    context.log.info(f"extracting {len(rooms)} rooms for local dates {start_date} to {end_date}")

    def progress(result: RoomSyncResult, done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            context.log.info(f"{done}/{total} rooms done")
        if result.status != "synced":
            context.log.warning(
                f"room {result.room_key} not synced: {result.reason}: {result.detail}"
            )

    async def run() -> list[RoomSyncResult]:
        async with roomcal.graph_client() as client:
            return await extract_rooms(
                rooms,
                start_date,
                end_date,
                client,
                roomcal.warehouse_url(),
                context.run_id,
                room_concurrency=roomcal.room_concurrency,
                on_room_done=progress,
            )

    results = asyncio.run(run())
    with roomcal.connect() as conn:
        record_results(conn, context.run_id, start_date, end_date, results)
    quality = validate_run(roomcal.warehouse_url(), context.run_id)
    marked = set(quality.rooms_marked)
    for result in results:
        if result.room_email in marked:
            result.status, result.reason = "not_synced", "error"
            result.detail = "events failed data checks and were quarantined"
            context.log.warning(f"room {result.room_email} not synced: {result.detail}")

    summary = summarize(results, start_date, end_date)
    summary["events_loaded"] -= quality.quarantined_by_checks
    summary["events_quarantined"] = quality.quarantine["total"]
    yield MaterializeResult(asset_key=RAW_ROOM_EVENTS, metadata=summary)
    yield AssetCheckResult(
        asset_key=RAW_ROOM_EVENTS,
        check_name="events_valid",
        passed=quality.validation.success,
        severity=AssetCheckSeverity.ERROR,
        metadata=quality.validation.metadata(),
    )
    yield AssetCheckResult(
        asset_key=RAW_ROOM_EVENTS,
        check_name="no_quarantined_events",
        passed=quality.quarantine["total"] == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "quarantined_events": quality.quarantine["total"],
            "by_reason": MetadataValue.json(quality.quarantine["by_reason"]),
            "sample_keys": MetadataValue.json(quality.quarantine["samples"]),
            "rooms_marked_not_synced": MetadataValue.json(quality.rooms_marked),
        },
    )
    yield MaterializeResult(
        asset_key=RAW_ROOM_SYNC_RESULTS,
        metadata={
            "rooms_synced": summary["rooms_synced"],
            "rooms_not_synced": summary["rooms_not_synced"],
            "rooms": MetadataValue.md(results_table(results)),
        },
    )


def summarize(results: list[RoomSyncResult], start_date: date, end_date: date) -> dict:
    """Counts only: no event attribute ever reaches metadata."""
    totals = RequestStats()
    for r in results:
        totals.add(r.stats)
    reasons = Counter(r.reason for r in results if r.status != "synced")
    return {
        "window": f"{start_date} to {end_date} (end exclusive)",
        "rooms_synced": sum(1 for r in results if r.status == "synced"),
        "rooms_not_synced": sum(1 for r in results if r.status != "synced"),
        "not_synced_by_reason": MetadataValue.json(dict(sorted(reasons.items()))),
        "events_loaded": sum(r.events_loaded for r in results),
        "events_quarantined": sum(r.events_quarantined for r in results),
        "graph_requests": totals.requests,
        "graph_retries": totals.retries,
        "graph_throttled_responses": totals.throttled,
        "graph_throttle_wait_seconds": round(totals.throttle_wait_seconds, 3),
    }


def results_table(results: list[RoomSyncResult]) -> str:
    lines = ["| room | status | reason | events | requests |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r.room_email or r.room_name} | {r.status} | {r.reason or ''} | "
            f"{r.events_loaded} | {r.stats.requests} |"
        )
    return "\n".join(lines)
