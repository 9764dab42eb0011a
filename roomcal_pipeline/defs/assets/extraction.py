"""The raw room events asset: every registered room's calendar for a window of local dates."""

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

from roomcal_pipeline.defs.metadata import results_table, summarize
from roomcal_pipeline.defs.partitions import daily_partitions
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.defs.room_runs import run_rooms_and_record
from roomcal_pipeline.extraction.load import extract_rooms
from roomcal_pipeline.quality.raw_events import validate_run
from roomcal_pipeline.warehouse.sync_results import RoomSyncResult

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
            description="Room calendar events with only the allowlisted attributes, one row "
            "per room and event, stored whole; a partition owns every row that overlaps its "
            "local dates (all-day events are the room's local dates).",
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
            "and unique per room, end not before start, allowed type/showAs/sensitivity, only "
            "allowlisted columns, row count equal to what Graph returned. "
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
    # Preflight: the selection, then Graph with one request (configuration Failures, no retry)
    rooms = roomcal.selected_rooms(config.rooms)
    roomcal.check_graph([r.email for r in rooms if r.email])
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

    results = run_rooms_and_record(roomcal, context.run_id, start_date, end_date, run())
    quality = validate_run(roomcal.warehouse_url(), context.run_id)
    for email in quality.rooms_flagged:
        context.log.warning(f"room {email}: some events were set aside in quarantine")

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
            "rooms_with_quarantined_events": MetadataValue.json(quality.rooms_flagged),
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
