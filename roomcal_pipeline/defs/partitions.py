"""Daily partitions. A partition key is a local date: each room reads it in its own zone."""

from dagster import DailyPartitionsDefinition

PARTITIONS_START_DATE = "2024-01-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE, end_offset=1)
