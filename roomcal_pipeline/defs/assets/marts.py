"""The dbt models as Dagster assets (dagster-dbt): staging, intermediate and marts.

Models tagged `partitioned` share the daily partitions of the raw events and get
the partition window as dbt vars `min_date`/`max_date` (local dates, end
exclusive); the others (views, dim_rooms, room_sync_status) are unpartitioned.
dbt tests are asset checks on the models they test.
"""

import json
import shutil
from collections.abc import Iterator
from datetime import date

from dagster import AssetExecutionContext, BackfillPolicy
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

PARTITIONED = "tag:partitioned"
_translator = DagsterDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


def dbt_vars(roomcal: RoomcalResource, window: tuple[date, date] | None = None) -> str:
    """The dbt vars of a build: the ad hoc threshold and, for a partitioned build, the
    local dates [min_date, max_date) it covers."""
    values: dict = {"adhoc_max_lead_minutes": roomcal.settings().adhoc_max_lead_minutes}
    if window is not None:
        values["min_date"], values["max_date"] = (d.isoformat() for d in window)
    return json.dumps(values)


def connect_dbt(roomcal: RoomcalResource) -> None:
    """dbt reads the connection from ROOMCAL_DB_* (profiles.yml): derive them from the
    one warehouse URL, so there is no second configuration for the user."""
    import os

    os.environ.update(dbt_connection_env(roomcal.warehouse_url()))


def stream_then_clean(invocation: DbtCliInvocation) -> Iterator:
    """Dagster events of one dbt invocation; its target folder is removed once it succeeds.

    dagster-dbt gives every invocation its own folder under target/ (about 7 MB of compiled
    SQL and logs for this project); with a sync every 10 minutes that is a gigabyte a day.
    Dagster has the results by then, and a failed invocation keeps its folder for debugging.
    """
    yield from invocation.stream()
    shutil.rmtree(invocation.target_path, ignore_errors=True)


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
    build_vars = dbt_vars(roomcal, (window.start.date(), window.end.date()))
    yield from stream_then_clean(dbt.cli(["build", "--vars", build_vars], context=context))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=PARTITIONED,
    dagster_dbt_translator=_translator,
    name="dbt_unpartitioned_models",
)
def dbt_unpartitioned_models(
    context: AssetExecutionContext, dbt: DbtCliResource, roomcal: RoomcalResource
):
    connect_dbt(roomcal)
    yield from stream_then_clean(dbt.cli(["build", "--vars", dbt_vars(roomcal)], context=context))
