"""Near-real-time sync: a job that runs delta rounds for every room, then rebuilds the
marts for just the local dates that changed; and the schedules that drive it."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetKey,
    AssetMaterialization,
    Config,
    DagsterRunStatus,
    DefaultScheduleStatus,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    job,
    op,
    schedule,
)
from dagster_dbt import DbtCliResource
from pydantic import Field

from roomcal_pipeline.config.settings import ConfigError, Settings
from roomcal_pipeline.defs.assets.directory import resolve_new_organizers
from roomcal_pipeline.defs.assets.extraction import RAW_ROOM_EVENTS, RAW_ROOM_SYNC_RESULTS
from roomcal_pipeline.defs.assets.marts import BUILD, connect_dbt, dbt_vars, stream_then_clean
from roomcal_pipeline.defs.jobs import daily_job
from roomcal_pipeline.defs.metadata import summarize
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.defs.room_runs import run_rooms_and_record
from roomcal_pipeline.extraction.delta import (
    DEFAULT_DAYS_AHEAD,
    DEFAULT_DAYS_BACK,
    DEFAULT_RESTART_DAYS,
    rolling_window,
    sync_rooms,
    sync_window,
)
from roomcal_pipeline.transform.project import dbt_project
from roomcal_pipeline.warehouse.locks import MARTS, SYNC, advisory_lock


class SyncConfig(Config):
    days_back: int = Field(
        default=DEFAULT_DAYS_BACK, description="rolling window: days before today"
    )
    days_ahead: int = Field(
        default=DEFAULT_DAYS_AHEAD, description="rolling window: days after today"
    )
    restart_days: int = Field(
        default=DEFAULT_RESTART_DAYS,
        ge=1,
        description="each room keeps its delta window this many days, then reads a new one "
        "in full on a day of its own (rooms restart spread over the cycle)",
    )
    rooms: list[str] = Field(default_factory=list, description="only these rooms (emails)")
    today: str | None = Field(default=None, description="ISO date standing in for today (tests)")


@op(out=Out(dict, description="the local date range whose marts must be rebuilt, if any"))
def sync_room_calendars(context: OpExecutionContext, config: SyncConfig, roomcal: RoomcalResource):
    """One delta round per room, unless another sync is running: then nothing (the
    running one reads every room; two at once would read and write the same rooms)."""
    with advisory_lock(roomcal.warehouse_url(), SYNC, wait=False) as held:
        if not held:
            context.log.warning(SKIPPED_MESSAGE)
            yield Output({"skipped": True})
            return
        yield from _sync_rooms(context, config, roomcal)


SKIPPED_MESSAGE = "another roomcal sync is running: this one did nothing"


def _sync_rooms(context: OpExecutionContext, config: SyncConfig, roomcal: RoomcalResource):
    today = date.fromisoformat(config.today) if config.today else date.today()
    start, end = rolling_window(today, config.days_back, config.days_ahead)
    # Preflight: the selection, then Graph with one request (configuration Failures, no retry)
    rooms = roomcal.selected_rooms(config.rooms)
    roomcal.check_graph([r.email for r in rooms if r.email])
    context.log.info(f"delta sync of {len(rooms)} rooms, local dates {start} to {end}")

    def window_for(room) -> tuple[date, date]:
        return sync_window(
            room.email, today, config.days_back, config.days_ahead, config.restart_days
        )

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
                window_for=window_for,
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
        windows_read_in_full=sum(r.read_in_full for r in results),
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
# The tests on the staging and intermediate views (dbt_project.yml) run with every `roomcal
# run` and nightly partition; a sync's refresh checks the marts it builds.
VIEW_TESTS = "tag:on_views"
RAW_ORGANIZER_DIRECTORY = AssetKey(["raw", "organizer_directory"])


@op(out={})
def refresh_changed_marts(
    context: OpExecutionContext, window: dict, dbt: DbtCliResource, roomcal: RoomcalResource
):
    """dbt build with the changed dates as the window: the partitioned marts rebuild just
    those dates; views, dim_rooms and room_sync_status are small and rebuild whole. When
    nothing changed, only dim_rooms and room_sync_status rebuild (with their own tests:
    cautious indirect selection), so the status shows this sync."""
    if window.get("skipped"):
        return
    connect_dbt(roomcal)
    if window:
        args = [*BUILD, "--vars", dbt_vars(roomcal, (window["min_date"], window["max_date"]))]
        args += ["--exclude", VIEW_TESTS]
        what = f"dbt build of the marts, {window['min_date']} to {window['max_date']}"
    else:
        context.log.info("nothing changed: the marts are current; rebuilding the sync status")
        # one --select value: dagster-dbt reads a single value per --select flag. With their
        # upstream views (+), so a sync that finds nothing before any marts exist (a first
        # sync after a killed one) still builds them.
        selection = " ".join(f"+{model}" for model in STATUS_MODELS)
        args = [*BUILD, "--select", selection, "--indirect-selection", "cautious"]
        args += ["--vars", dbt_vars(roomcal), "--exclude", VIEW_TESTS]
        what = f"dbt build of {' and '.join(STATUS_MODELS)}"
    with advisory_lock(roomcal.warehouse_url(), MARTS, wait=True):
        invocation = dbt.cli(args, manifest=dbt_project.manifest_path, context=context)
        for event in stream_then_clean(invocation, context.log, what):
            if isinstance(event, AssetMaterialization):
                yield event


@job(description="Delta sync of the rolling window, then the marts for the dates that changed.")
def delta_sync_job():
    refresh_changed_marts(sync_room_calendars())


_IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@schedule(
    name="delta_sync_every_10_minutes",
    cron_schedule="*/10 * * * *",
    job=delta_sync_job,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Keeps today's bookings fresh: one delta request per room when nothing "
    "changed. A tick is skipped while the previous sync is still queued or running.",
)
def delta_sync_schedule(context: ScheduleEvaluationContext):
    running = context.instance.get_run_records(
        RunsFilter(job_name=delta_sync_job.name, statuses=_IN_FLIGHT), limit=1
    )
    if running:
        run_id = running[0].dagster_run.run_id
        return SkipReason(f"the previous sync (run {run_id}) is still in progress")
    return RunRequest()


# A local date's partition is materialized once that date has ended in every time zone of
# the registry, and an hour more for the edits people make that evening.
NIGHTLY_GRACE = timedelta(hours=1)


def last_ended_date(now: datetime, zones: Iterable[str]) -> date:
    """The latest local date that ended at least NIGHTLY_GRACE before `now` in every zone
    (UTC when there is none)."""
    moment = now.astimezone(UTC) - NIGHTLY_GRACE
    local_days = [moment.astimezone(ZoneInfo(zone)).date() for zone in zones] or [moment.date()]
    return min(local_days) - timedelta(days=1)


def registry_zones(settings: Settings) -> set[str]:
    """The time zones of the rooms the registry lists (a room's own, else the default)."""
    rooms, _ = settings.load_registry()
    return {room.timezone for room in rooms}


@schedule(
    name="daily_partition_schedule",
    cron_schedule="20 * * * *",
    job=daily_job,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Each local date's partition once that date has ended in every time zone of "
    "the registry (and an hour more): the historical truth, with that evening's edits. "
    "Later edits reach the marts through the delta sync.",
)
def daily_partition_schedule(context: ScheduleEvaluationContext, roomcal: RoomcalResource):
    """Evaluated every hour; the run key (the date) makes each partition run once. A date
    ends last in the registry's westernmost zone: with rooms in Los Angeles and Kolkata,
    Monday's partition runs at about 09:20 UTC on Tuesday (Monday 24:00 in Los Angeles
    plus the grace hour), not at 03:00 UTC when it is still Monday evening there."""
    try:
        zones = registry_zones(roomcal.settings())
    except ConfigError as exc:
        return SkipReason(f"no registry to take time zones from: {exc}")
    when = context.scheduled_execution_time or datetime.now(UTC)
    day = last_ended_date(when, zones).isoformat()
    return RunRequest(run_key=day, partition_key=day)
