"""Runs the asset job through Dagster, recorded in DAGSTER_HOME like a run from the UI."""

from __future__ import annotations

import contextlib
import os
from datetime import date, datetime, timedelta
from pathlib import Path

from roomcal_pipeline.config.settings import ConfigError

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def ensure_dagster_home(data_dir: Path) -> Path:
    """DAGSTER_HOME, defaulting to a folder under the data folder so runs persist."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) if home else (Path(data_dir) / "dagster_home").resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def run_assets(
    start: date,
    end: date,
    data_dir: Path,
    rooms: list[str] | None = None,
    log_level: str = "INFO",
):
    """Materialize every asset for local dates [start, end) in one Dagster run."""
    from roomcal_pipeline.defs.partitions import PARTITIONS_START_DATE

    if end <= start:
        raise ConfigError("--end must be after --start (the end date is excluded)")
    first = date.fromisoformat(PARTITIONS_START_DATE)
    if start < first:
        raise ConfigError(f"--start must be on or after {first} (the first daily partition)")
    if end > date.today() + timedelta(days=2):
        raise ConfigError("--end may be at most tomorrow's date (partitions end today)")
    run_config: dict = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if rooms:
        run_config["ops"] = {"room_events": {"config": {"rooms": rooms}}}
    tags = {
        RANGE_START_TAG: start.isoformat(),
        RANGE_END_TAG: (end - timedelta(days=1)).isoformat(),
    }
    return run_job("roomcal_all_assets", run_config, tags, data_dir)


def run_sync(data_dir: Path, rooms: list[str] | None = None, today: date | None = None):
    """The delta sync job, in one Dagster run."""
    config: dict = {"rooms": rooms or []}
    if today:
        config["today"] = today.isoformat()
    run_config = {
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
        "ops": {"sync_room_calendars": {"config": config}},
    }
    return run_job("delta_sync_job", run_config, {}, data_dir)


def run_job(name: str, run_config: dict, tags: dict, data_dir: Path):
    """Execute a job of the code location in this process, recorded in DAGSTER_HOME."""
    from dagster import DagsterInstance

    from roomcal_pipeline.transform.project import ensure_manifest

    ensure_manifest()  # before the definitions load it

    from roomcal_pipeline.definitions import defs

    job = defs.resolve_job_def(name)
    log_dir = Path(data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    dbt_log = log_dir / f"dbt-{datetime.now():%Y%m%d-%H%M%S}.log"
    # dagster-dbt echoes every dbt log line to stdout; the terminal gets Dagster's
    # progress lines (stderr) and the dbt detail goes to a file.
    with (
        DagsterInstance.get() as instance,
        dbt_log.open("a", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
    ):
        result = job.execute_in_process(
            instance=instance, run_config=run_config, tags=tags, raise_on_error=False
        )
    print(f"dbt output: {dbt_log}")
    return result
