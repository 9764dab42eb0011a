"""The code location: assembles what roomcal_pipeline.defs defines."""

from dagster import Definitions
from dagster_dbt import DbtCliResource

from roomcal_pipeline.defs.assets.directory import organizer_directory
from roomcal_pipeline.defs.assets.discovery import tenant_rooms
from roomcal_pipeline.defs.assets.extraction import room_events
from roomcal_pipeline.defs.assets.marts import dbt_partitioned_models, dbt_unpartitioned_models
from roomcal_pipeline.defs.assets.registry import room_registry
from roomcal_pipeline.defs.checks.marts import booking_rates_valid, every_registered_room_present
from roomcal_pipeline.defs.jobs import all_assets_job, daily_job
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.defs.sync import daily_partition_schedule, delta_sync_job, delta_sync_schedule
from roomcal_pipeline.transform.project import DBT_EXECUTABLE, dbt_project

defs = Definitions(
    assets=[
        room_registry,
        room_events,
        organizer_directory,
        tenant_rooms,
        dbt_unpartitioned_models,
        dbt_partitioned_models,
    ],
    asset_checks=[booking_rates_valid, every_registered_room_present],
    jobs=[all_assets_job, daily_job, delta_sync_job],
    schedules=[daily_partition_schedule, delta_sync_schedule],
    resources={
        "roomcal": RoomcalResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    },
)
