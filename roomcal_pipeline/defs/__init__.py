"""Dagster definitions: resources, partitions, assets, checks, jobs and schedules."""
