"""The code location: assembles what roomcal_pipeline.defs defines.

Dagster loads `roomcal_location` (`dagster dev -w workspace.yaml`, the code server of the
Docker deployment): it reads `ROOMCAL_HISTORY_START` when the location loads, never at
import. `defs` is the same code location with the default history start, for code and
tests that import it; `roomcal run`/`demo`/`sync` call `build_defs` with the setting.
"""

import logging
from datetime import date

from dagster import (
    AssetsDefinition,
    DailyPartitionsDefinition,
    Definitions,
    define_asset_job,
    definitions,
)
from dagster_dbt import DbtCliResource

from roomcal_pipeline.config.settings import (
    ConfigError,
    default_history_start,
    history_start_from_env,
)
from roomcal_pipeline.defs.assets.directory import organizer_directory
from roomcal_pipeline.defs.assets.discovery import tenant_rooms
from roomcal_pipeline.defs.assets.extraction import room_events
from roomcal_pipeline.defs.assets.marts import dbt_partitioned_models, dbt_unpartitioned_models
from roomcal_pipeline.defs.assets.registry import room_registry
from roomcal_pipeline.defs.checks.marts import booking_rates_valid, every_registered_room_present
from roomcal_pipeline.defs.jobs import all_assets_job, daily_job
from roomcal_pipeline.defs.partitions import (
    PARTITIONS_START_DATE,
    daily_partitions,
    daily_partitions_from,
)
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.defs.sync import daily_partition_schedule, delta_sync_job, delta_sync_schedule
from roomcal_pipeline.transform.project import DBT_EXECUTABLE, dbt_project

_log = logging.getLogger(__name__)


def build_defs(history_start: date | None = None) -> Definitions:
    """The code location, its daily partitions starting at `history_start` (None: the
    default, the first day of the month six months back)."""
    assets = [
        room_registry,
        room_events,
        organizer_directory,
        tenant_rooms,
        dbt_unpartitioned_models,
        dbt_partitioned_models,
    ]
    jobs = [all_assets_job, daily_job, delta_sync_job]
    schedules = [daily_partition_schedule, delta_sync_schedule]
    if history_start is not None and history_start.isoformat() != PARTITIONS_START_DATE:
        partitions = daily_partitions_from(history_start)
        assets = [_repartitioned(a, partitions) for a in assets]
        moved_job = define_asset_job(
            daily_job.name,
            selection=daily_job.selection,
            partitions_def=partitions,
            description=daily_job.description,
        )
        jobs = [moved_job if j is daily_job else j for j in jobs]
        schedules = [
            s.with_updated_job(moved_job) if s is daily_partition_schedule else s for s in schedules
        ]
    return Definitions(
        assets=assets,
        asset_checks=[booking_rates_valid, every_registered_room_present],
        jobs=jobs,
        schedules=schedules,
        resources={
            "roomcal": RoomcalResource(),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
        },
    )


def _repartitioned(
    asset: AssetsDefinition, partitions: DailyPartitionsDefinition
) -> AssetsDefinition:
    """The asset on `partitions` if it is on the default daily partitions; else unchanged."""
    if asset.partitions_def != daily_partitions:
        return asset
    return asset.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions))


def location_history_start() -> date:
    """ROOMCAL_HISTORY_START for the code location. A malformed value must not stop the
    location loading (nor does any other setting): it falls back to the default with a
    warning; `roomcal` commands and every run reject it with a one-line ConfigError."""
    try:
        return history_start_from_env()
    except ConfigError as exc:
        fallback = default_history_start()
        _log.warning("%s; daily partitions start at the default, %s", exc, fallback)
        return fallback


@definitions
def roomcal_location() -> Definitions:
    """What Dagster loads: the definitions with ROOMCAL_HISTORY_START applied."""
    return build_defs(location_history_start())


defs = build_defs()
