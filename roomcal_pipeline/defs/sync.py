"""Near-real-time sync: a job that runs delta rounds for every room, then rebuilds the
marts for just the local dates that changed; and the schedules that drive it."""

from datetime import date, datetime, timedelta

from dagster import (
    AssetKey,
    AssetMaterialization,
    Config,
    DefaultScheduleStatus,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    job,
    op,
    schedule,
)
from dagster_dbt import DbtCliResource
from pydantic import Field

from roomcal_pipeline.defs.assets.directory import resolve_new_organizers
from roomcal_pipeline.defs.assets.extraction import RAW_ROOM_EVENTS, RAW_ROOM_SYNC_RESULTS
from roomcal_pipeline.defs.assets.marts import connect_dbt, dbt_vars, stream_then_clean
from roomcal_pipeline.defs.jobs import daily_job
from roomcal_pipeline.defs.metadata import summarize
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.defs.room_runs import run_rooms_and_record
from roomcal_pipeline.extraction.delta import (
    DEFAULT_DAYS_AHEAD,
    DEFAULT_DAYS_BACK,
    rolling_window,
    sync_rooms,
)
from roomcal_pipeline.transform.project import dbt_project


class SyncConfig(Config):
    days_back: int = Field(
        default=DEFAULT_DAYS_BACK, description="rolling window: days before today"
    )
    days_ahead: int = Field(
        default=DEFAULT_DAYS_AHEAD, description="rolling window: days after today"
    )
    rooms: list[str] = Field(default_factory=list, description="only these rooms (emails)")
    today: str | None = Field(default=None, description="ISO date standing in for today (tests)")


@op(out=Out(dict, description="the local date range whose marts must be rebuilt, if any"))
def sync_room_calendars(context: OpExecutionContext, config: SyncConfig, roomcal: RoomcalResource):
    today = date.fromisoformat(config.today) if config.today else date.today()
    start, end = rolling_window(today, config.days_back, config.days_ahead)
    # Preflight: the selection, then Graph with one request (configuration Failures, no retry)
    rooms = roomcal.selected_rooms(config.rooms)
    roomcal.check_graph([r.email for r in rooms if r.email])
    context.log.info(f"delta sync of {len(rooms)} rooms, local dates {start} to {end}")

    async def run():
        async with roomcal.graph_client() as client:
            return await sync_rooms(
                rooms,
                client,
                roomcal.warehouse_url(),
                context.run_id,
                start,
                end,
                room_concurrency=roomcal.room_concurrency,
            )

    results = run_rooms_and_record(roomcal, context.run_id, start, end, run())
    # New organizers get their department before the marts refresh (within a budget); a
    # directory that fails leaves them to the next sync or run, never fails the sync.
    try:
        directory = resolve_new_organizers(roomcal)
    except Exception as exc:  # noqa: BLE001
        context.log.warning(f"organizer directory not updated: {type(exc).__name__}: {exc}")
        directory = {}
    changed = sorted(set().union(*(r.changed_dates for r in results)))
    for r in results:
        if r.status != "synced":
            context.log.warning(f"room {r.room_key} not synced: {r.reason}: {r.detail}")
    metadata = summarize(results, start, end)
    metadata.update(
        changes_applied=sum(r.changes for r in results),
        changed_dates=len(changed),
        graph_requests_per_room=round(metadata["graph_requests"] / max(1, len(rooms)), 2),
    )
    yield AssetMaterialization(asset_key=RAW_ROOM_EVENTS, metadata=metadata)
    yield AssetMaterialization(asset_key=RAW_ROOM_SYNC_RESULTS, metadata={"run": "delta sync"})
    if directory.get("looked_up"):
        yield AssetMaterialization(asset_key=RAW_ORGANIZER_DIRECTORY, metadata=directory)
    window = (
        {"min_date": changed[0], "max_date": changed[-1] + timedelta(days=1)} if changed else {}
    )
    yield Output(window)


# Rebuilt by every sync, even one that changed nothing: the sync's results are in
# raw.room_sync_results, and `roomcal status` reads them from room_sync_status. Both tables
# are one row per room, so this costs a dbt start-up (a few seconds), not a marts rebuild.
STATUS_MODELS = ("dim_rooms", "room_sync_status")
RAW_ORGANIZER_DIRECTORY = AssetKey(["raw", "organizer_directory"])


@op(out={})
def refresh_changed_marts(
    context: OpExecutionContext, window: dict, dbt: DbtCliResource, roomcal: RoomcalResource
):
    """dbt build with the changed dates as the window: the partitioned marts rebuild just
    those dates; views, dim_rooms and room_sync_status are small and rebuild whole. When
    nothing changed, only dim_rooms and room_sync_status rebuild (with their own tests:
    cautious indirect selection), so the status shows this sync."""
    connect_dbt(roomcal)
    if window:
        args = ["build", "--vars", dbt_vars(roomcal, (window["min_date"], window["max_date"]))]
        what = f"dbt build of the marts, {window['min_date']} to {window['max_date']}"
    else:
        context.log.info("nothing changed: the marts are current; rebuilding the sync status")
        # one --select value: dagster-dbt reads a single value per --select flag. With their
        # upstream views (+), so a sync that finds nothing before any marts exist (a first
        # sync after a killed one) still builds them.
        selection = " ".join(f"+{model}" for model in STATUS_MODELS)
        args = ["build", "--select", selection, "--indirect-selection", "cautious"]
        args += ["--vars", dbt_vars(roomcal)]
        what = f"dbt build of {' and '.join(STATUS_MODELS)}"
    invocation = dbt.cli(args, manifest=dbt_project.manifest_path, context=context)
    for event in stream_then_clean(invocation, context.log, what):
        if isinstance(event, AssetMaterialization):
            yield event


@job(description="Delta sync of the rolling window, then the marts for the dates that changed.")
def delta_sync_job():
    refresh_changed_marts(sync_room_calendars())


delta_sync_schedule = ScheduleDefinition(
    name="delta_sync_every_10_minutes",
    job=delta_sync_job,
    cron_schedule="*/10 * * * *",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Keeps today's bookings fresh: one delta request per room when nothing changed.",
)


@schedule(
    cron_schedule="0 3 * * *",
    job=daily_job,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Yesterday's partition each night: the historical truth, with late edits.",
)
def daily_partition_schedule(context: ScheduleEvaluationContext):
    when = context.scheduled_execution_time or datetime.now()
    yesterday = (when.date() - timedelta(days=1)).isoformat()
    return RunRequest(run_key=yesterday, partition_key=yesterday)
