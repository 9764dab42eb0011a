"""Daily partitions. A partition key is a local date: each room reads it in its own zone.

The first partition is `ROOMCAL_HISTORY_START` (default: the first day of the month six
months back, so the UI does not list years of partitions nobody loaded). Dagster builds
partitions definitions at import, and importing roomcal reads no environment, so:

- `daily_partitions`, used by the asset modules, starts at the default, computed from the
  clock (PARTITIONS_START_DATE);
- `roomcal_pipeline.definitions.build_defs(history_start)` moves every partitioned asset,
  job and schedule onto `daily_partitions_from(history_start)`; Dagster calls it (through
  `roomcal_pipeline.definitions.roomcal_location`) when it loads the code location, and
  `roomcal run`/`demo`/`sync` call it with the validated setting.
"""

from datetime import date

from dagster import DailyPartitionsDefinition

from roomcal_pipeline.config.settings import default_history_start


def daily_partitions_from(start: date | str) -> DailyPartitionsDefinition:
    """Daily partitions from `start` up to and including today (UTC: `end_offset=1`)."""
    first = start.isoformat() if isinstance(start, date) else start
    return DailyPartitionsDefinition(start_date=first, end_offset=1)


# The default first partition (no environment read): the first day of the month six months back.
PARTITIONS_START_DATE = default_history_start().isoformat()

daily_partitions = daily_partitions_from(PARTITIONS_START_DATE)
