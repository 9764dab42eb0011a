"""Runs the asset job through Dagster, recorded in DAGSTER_HOME like a run from the UI.

The console of a `roomcal` command carries progress and the summary; the rest goes to
files under `<data folder>/logs`: `roomcal.log` (Python warnings, library log records,
Dagster's full log lines of each run) and `dbt-<time>.log` (dbt's output of each run).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from roomcal_pipeline.config.settings import DEFAULT_DATA_DIR, ConfigError, history_start_from_env

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
LOG_FILE = "roomcal.log"

# Written into an instance folder that has no dagster.yaml (never over an existing one):
# without it Dagster warns that the file is missing and prints its telemetry banner.
DAGSTER_YAML = """\
# Written by roomcal for the Dagster instance of its command-line runs; roomcal never
# overwrites this file. Everything else is Dagster's default: runs, event logs and schedules
# in SQLite under this folder. See https://docs.dagster.io/deployment/oss/dagster-yaml
telemetry:
  enabled: false
"""


def ensure_dagster_home(data_dir: Path) -> Path:
    """DAGSTER_HOME, defaulting to a folder under the data folder so runs persist; with a
    dagster.yaml that turns telemetry off when the folder has none."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) if home else (Path(data_dir) / "dagster_home").resolve()
    path.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.suppress(FileExistsError),
        (path / "dagster.yaml").open("x", encoding="utf-8") as config,
    ):
        config.write(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def data_dir_from_env() -> Path:
    """The data folder as Settings reads it, for logging set up before Settings is."""
    return Path(os.environ.get("ROOMCAL_DATA_DIR", "").strip() or DEFAULT_DATA_DIR)


CONSOLE_LOGGER = "roomcal.console"


class _LogFileHandler(logging.handlers.RotatingFileHandler):
    """`<data folder>/logs/roomcal.log`, 5 MB x 3, created at its first record: records of
    WARNING and above, and every line of the run console (Dagster's full lines)."""

    def __init__(self, data_dir: Path):
        path = (Path(data_dir) / "logs" / LOG_FILE).resolve()
        super().__init__(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.addFilter(
            lambda record: record.levelno >= logging.WARNING or record.name == CONSOLE_LOGGER
        )

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


_active_file: _LogFileHandler | None = None  # the one of library_logs_to_file, if any


@contextlib.contextmanager
def library_logs_to_file(data_dir: Path | None = None) -> Iterator[Path]:
    """While a command runs, Python warnings (platformdirs, Great Expectations'
    GxDatasourceWarning, Dagster's) and library log records of WARNING and above go to
    the log file, not the console: with a handler on the root logger, Python no longer
    prints them to stderr. Yields the log file's path."""
    global _active_file
    handler = _LogFileHandler(data_dir or data_dir_from_env())
    root, outer = logging.getLogger(), _active_file
    shown = warnings.showwarning
    warnings_log = logging.getLogger("py.warnings")

    def to_log(message, category, filename, lineno, file=None, line=None):
        warnings_log.warning("%s: %s (%s:%s)", category.__name__, message, filename, lineno)

    root.addHandler(handler)
    warnings.showwarning = to_log
    _active_file = handler
    try:
        yield Path(handler.baseFilename)
    finally:
        _active_file = outer
        warnings.showwarning = shown
        root.removeHandler(handler)
        handler.close()


@contextlib.contextmanager
def _log_file(data_dir: Path) -> Iterator[_LogFileHandler]:
    """The handler of library_logs_to_file for this data folder, or one of its own."""
    path = (Path(data_dir) / "logs" / LOG_FILE).resolve()
    if _active_file is not None and Path(_active_file.baseFilename) == path:
        yield _active_file
        return
    handler = _LogFileHandler(data_dir)
    try:
        yield handler
    finally:
        handler.close()


# dagster-dbt's bookkeeping lines (the selection it passes, the files it copies, the dbt
# command line): the log file has them; the console has roomcal's own dbt progress lines.
_DBT_BOOKKEEPING = (
    "A dbt subsetted execution",
    "Copying `",
    "Running dbt command",
    "Finished dbt command",
    "Overriding default `DBT_INDIRECT_SELECTION`",
)
_PROGRESS = re.compile(r"^(\d+)/(\d+) [^:]* done$")
PROGRESS_EVERY_SECONDS = 10.0
MAX_LINE = 300


class _ShortConsole(logging.Handler):
    """Dagster's log lines of a CLI run as `HH:MM:SS step: message` on stderr: no job
    name or run id, the first line of each message (at most MAX_LINE characters), and
    `k/n ... done` progress lines at most every PROGRESS_EVERY_SECONDS per step, and the
    last one. Debug lines and dagster-dbt's bookkeeping stay in the log file."""

    def __init__(self, level: int):
        super().__init__(level)
        self._progress_shown: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            meta = getattr(record, "dagster_meta", None) or {}
            message = str(meta.get("orig_message") or record.getMessage()).strip()
            if not message or message.startswith(_DBT_BOOKKEEPING):
                return
            step = str(meta.get("step_key") or "run").replace("__", "/")
            if not self._show_progress(step, message):
                return
            first = message.splitlines()[0]
            level = "" if record.levelno < logging.WARNING else f"{record.levelname} "
            line = f"{datetime.fromtimestamp(record.created):%H:%M:%S} {step}: {level}{first}"
            if len(line) > MAX_LINE:
                line = line[: MAX_LINE - 3] + "..."
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)

    def _show_progress(self, step: str, message: str) -> bool:
        match = _PROGRESS.match(message)
        if not match:
            return True
        done, total = int(match.group(1)), int(match.group(2))
        now = time.monotonic()
        if done < total and now - self._progress_shown.get(step, 0.0) < PROGRESS_EVERY_SECONDS:
            return False
        self._progress_shown[step] = now
        return True


def _console_logger_def(log_file: logging.Handler):
    """The `console` logger of CLI runs: short lines on the console, Dagster's full lines
    (job, run id, step) in the log file."""
    from dagster import Field, logger
    from dagster._core.utils import coerce_valid_log_level

    @logger(
        {"log_level": Field(str, is_required=False, default_value="INFO")},
        description="roomcal's console: short progress lines; the full ones in its log file.",
    )
    def roomcal_console(init_context) -> logging.Logger:
        level = coerce_valid_log_level(init_context.logger_config["log_level"])
        # Not registered with logging's manager: nothing propagates to the root logger.
        log = logging.getLoggerClass()(CONSOLE_LOGGER, level=level)
        log.addHandler(_ShortConsole(level))
        log.addHandler(log_file)
        return log

    return roomcal_console


def run_assets(
    start: date,
    end: date,
    data_dir: Path,
    rooms: list[str] | None = None,
    log_level: str = "INFO",
):
    """Materialize every asset for local dates [start, end) in one Dagster run."""
    check_run_dates(start, end)
    run_config: dict = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if rooms:
        run_config["ops"] = {"room_events": {"config": {"rooms": rooms}}}
    tags = {
        RANGE_START_TAG: start.isoformat(),
        RANGE_END_TAG: (end - timedelta(days=1)).isoformat(),
    }
    return run_job("roomcal_all_assets", run_config, tags, data_dir)


def check_run_dates(start: date, end: date) -> None:
    """The local dates [start, end) must be daily partitions: ConfigError, one line, if not.

    The first partition is ROOMCAL_HISTORY_START (default: the first day of the month six
    months back); the last one is today in the partitions' time zone (UTC; `end_offset=1`),
    so `end`, excluded, may be at most the day after it.
    """
    from roomcal_pipeline.defs.partitions import daily_partitions

    first = history_start_from_env()
    last = date.fromisoformat(daily_partitions.get_last_partition_key())
    where = f"today in {daily_partitions.timezone}"
    if start < first:
        raise ConfigError(
            f"--start must be at least {first} (YYYY-MM-DD), the first daily partition; got {start}"
        )
    if start > last:
        raise ConfigError(
            f"--start must be at most {last} (YYYY-MM-DD), the last daily partition "
            f"({where}); got {start}"
        )
    if end <= start:
        raise ConfigError(
            f"--end must be after --start, at least {start + timedelta(days=1)} (YYYY-MM-DD): "
            f"the end date is excluded; got {end}"
        )
    if end > last + timedelta(days=1):
        raise ConfigError(
            f"--end must be at most {last + timedelta(days=1)} (YYYY-MM-DD), the day after "
            f"the last daily partition {last} ({where}): the end date is excluded; got {end}"
        )


def run_sync(
    data_dir: Path,
    rooms: list[str] | None = None,
    today: date | None = None,
    restart_days: int | None = None,
):
    """The delta sync job, in one Dagster run (`today` and `restart_days` for tests)."""
    config: dict = {"rooms": rooms or []}
    if today:
        config["today"] = today.isoformat()
    if restart_days:
        config["restart_days"] = restart_days
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

    from roomcal_pipeline.definitions import build_defs

    defs = build_defs(history_start_from_env())
    log_dir = (Path(data_dir) / "logs").resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    dbt_log = log_dir / f"dbt-{datetime.now():%Y%m%d-%H%M%S}.log"
    # dagster-dbt echoes every dbt log line to stdout; the terminal gets the short progress
    # lines (stderr) and the dbt detail goes to a file.
    with (
        _log_file(data_dir) as log_file,
        DagsterInstance.get() as instance,
        dbt_log.open("a", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
    ):
        job = defs.resolve_job_def(name).with_logger_defs(
            {"console": _console_logger_def(log_file)}
        )
        result = job.execute_in_process(
            instance=instance, run_config=run_config, tags=tags, raise_on_error=False
        )
    print(f"Logs: {log_dir / LOG_FILE} (warnings, Dagster's full log); dbt output: {dbt_log}")
    return result
