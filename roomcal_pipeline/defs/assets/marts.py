"""The dbt models as Dagster assets (dagster-dbt): staging, intermediate and marts.

Models tagged `partitioned` share the daily partitions of the raw events and get
the partition window as dbt vars `min_date`/`max_date` (local dates, end
exclusive); the others (views, dim_rooms, room_sync_status) are unpartitioned.
Each model is in the asset group of its folder: `staging`, `intermediate`, `marts`.
dbt tests are asset checks on the models they test.

The tests that dbt_project/models/staging/_sources.yml declares on the raw tables are
not run by these assets: they are not asset checks (their tables are roomcal's own
Python assets, checked by Great Expectations, and the staging models repeat their
key tests), and dagster-dbt would log each one as a warning about an AssetObservation.
`dbt build` without a selection (the sync's) and `dbt test -s "source:*"` still run them.
"""

import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from logging import Logger
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetExecutionContext,
    AssetMaterialization,
    BackfillPolicy,
    Output,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    dbt_assets,
)

from roomcal_pipeline.defs.partitions import daily_partitions
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.transform.project import dbt_project
from roomcal_pipeline.warehouse.database import dbt_connection_env
from roomcal_pipeline.warehouse.directory import organizer_change_dates
from roomcal_pipeline.warehouse.locks import MARTS, advisory_lock

PARTITIONED = "tag:partitioned"
# dbt's unit tests check the metric logic on fixed rows: they belong to CI
# (tests/quality/test_dbt_unit_tests.py), not to every production build, where they would
# add a temporary table and a query per test to each run.
BUILD = ["build", "--exclude-resource-type", "unit_test"]
SOURCE_TESTS = "source:*"  # excluding the sources excludes the tests on them
PROGRESS_EVERY_SECONDS = 15.0


class RoomcalDbtTranslator(DagsterDbtTranslator):
    """dagster-dbt's defaults, with each model in the group of its folder under models/
    (staging, intermediate, marts) instead of `default`."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)


_translator = RoomcalDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


def dbt_vars(roomcal: RoomcalResource, window: tuple[date, date] | None = None) -> str:
    """The dbt vars of a build: the ad hoc threshold and, for a partitioned build, the
    local dates [min_date, max_date) it covers."""
    values: dict = {"adhoc_max_lead_minutes": roomcal.settings().adhoc_max_lead_minutes}
    if window is not None:
        values["min_date"], values["max_date"] = (d.isoformat() for d in window)
    return json.dumps(values)


def changed_window(
    roomcal: RoomcalResource, run_id: str, start: date, end: date
) -> tuple[date, date]:
    """The partition range, widened to every local date this run's extraction changed.

    A booking that spans days belongs to every date it overlaps: when a partition's load
    adds, moves or deletes one, the daily marts of its other dates change too (a three-day
    block deleted on Thursday leaves Monday and Tuesday when the nightly run reloads
    Wednesday), so they are rebuilt in the same build. Likewise every date booked by an
    organizer whose group this run's directory refresh changed (a department change, or
    a failed lookup that now succeeds).
    """
    with roomcal.connect() as conn:
        spans = [
            conn.execute(
                "select min(changed_first_date), max(changed_last_date)"
                " from raw.room_sync_results where run_id = %s and status = 'synced'",
                (run_id,),
            ).fetchone(),
            organizer_change_dates(conn, run_id),
        ]
    for first, last in spans:
        if first is not None:
            start = min(start, first)
        if last is not None:
            end = max(end, last + timedelta(days=1))
    return start, end


def connect_dbt(roomcal: RoomcalResource) -> None:
    """dbt reads the connection from ROOMCAL_DB_* (profiles.yml): derive them from the
    one warehouse URL, so there is no second configuration for the user."""
    import os

    os.environ.update(dbt_connection_env(roomcal.warehouse_url()))


def stream_then_clean(
    invocation: DbtCliInvocation, log: Logger | None = None, what: str = "dbt build"
) -> Iterator:
    """Dagster events of one dbt invocation; its target folder is removed once it succeeds.

    dagster-dbt gives every invocation its own folder under target/ (about 7 MB of compiled
    SQL and logs for this project); with a sync every 10 minutes that is a gigabyte a day.
    Dagster has the results by then, and a failed invocation keeps its folder for debugging.

    With `log`, progress lines: one when dbt starts, one every PROGRESS_EVERY_SECONDS while
    it runs, and a last one with what it built and tested.
    """
    started = last = time.monotonic()
    counts: Counter = Counter()
    if log is not None:
        log.info(f"{what}: started")
    for event in invocation.stream():
        if isinstance(event, (Output, AssetMaterialization)):
            counts["models"] += 1
        elif isinstance(event, (AssetCheckResult, AssetCheckEvaluation)):
            counts["tests"] += 1
            counts["failed"] += 0 if event.passed else 1
        yield event
        if log is not None and time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
            last = time.monotonic()
            log.info(f"{what}: {_progress(counts)} so far")
    shutil.rmtree(invocation.target_path, ignore_errors=True)
    if log is not None:
        log.info(f"{what}: {_progress(counts)} in {time.monotonic() - started:.0f} s")


def _progress(counts: Counter) -> str:
    failed = f", {counts['failed']} failed" if counts["failed"] else ""
    return f"{counts['models']} models built, {counts['tests']} tests run{failed}"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PARTITIONED,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    dagster_dbt_translator=_translator,
    name="dbt_partitioned_models",
)
def dbt_partitioned_models(
    context: AssetExecutionContext, dbt: DbtCliResource, roomcal: RoomcalResource
):
    connect_dbt(roomcal)
    window = context.partition_time_window
    start, end = changed_window(roomcal, context.run_id, window.start.date(), window.end.date())
    build_vars = dbt_vars(roomcal, (start, end))
    with advisory_lock(roomcal.warehouse_url(), MARTS, wait=True):
        yield from stream_then_clean(
            dbt.cli([*BUILD, "--vars", build_vars], context=context),
            context.log,
            f"dbt build of the daily marts, {start} to {end}",
        )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=f"{PARTITIONED} {SOURCE_TESTS}",
    dagster_dbt_translator=_translator,
    name="dbt_unpartitioned_models",
)
def dbt_unpartitioned_models(
    context: AssetExecutionContext, dbt: DbtCliResource, roomcal: RoomcalResource
):
    connect_dbt(roomcal)
    with advisory_lock(roomcal.warehouse_url(), MARTS, wait=True):
        yield from stream_then_clean(
            dbt.cli([*BUILD, "--vars", dbt_vars(roomcal)], context=context),
            context.log,
            "dbt build of staging, intermediate, dim_rooms, room_sync_status",
        )
