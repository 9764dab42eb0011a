"""`roomcal`: demo, run, sync, status, simulate (docs/configuration.md).

Exit status: 0 when the run completed, even with rooms not synced (they are
data); 2 with a one-line cause when configuration or a date is wrong or the
warehouse is unreachable or fails; 1 when the Dagster run itself failed. No
message shows a password of ROOMCAL_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import date, timedelta
from pathlib import Path

from roomcal_pipeline.config.settings import ConfigError, Settings

DEMO_WEEKS = 3


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(text: str, option: str) -> date:
    """A `--start`/`--end` value: YYYY-MM-DD only (date.fromisoformat alone would also
    take 20260105 or 2026-W02-1); ConfigError, one line, otherwise."""
    if not _ISO_DATE.fullmatch(text):
        raise ConfigError(f"{option} must be a date written YYYY-MM-DD; got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"{option} must be a valid date (YYYY-MM-DD); got {text!r}: {exc}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roomcal", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="zero-configuration demo on the simulated tenant")
    demo.add_argument("--weeks", type=int, default=DEMO_WEEKS, help="weeks to backfill (default 3)")
    run = sub.add_parser("run", help="materialize every asset for local dates [start, end)")
    run.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first local date")
    run.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="local date after the last")
    run.add_argument("--rooms", help="comma-separated room emails: only these rooms")
    sync = sub.add_parser("sync", help="incremental delta sync of the rolling window")
    sync.add_argument("--rooms", help="comma-separated room emails: only these rooms")
    sub.add_parser("status", help="every registered room with its sync status")
    sim = sub.add_parser("simulate", help="serve the simulated tenant on a local port")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument(
        "--rooms-file",
        type=Path,
        help="also write the tenant's registry CSV here (an existing file only with --force)",
    )
    sim.add_argument("--force", action="store_true", help="overwrite an existing --rooms-file")
    sub.add_parser("stop-db", help="stop the embedded PostgreSQL server")
    db_url = sub.add_parser(
        "db-url", help="print the warehouse URL, for psql, Metabase, Power BI (password hidden)"
    )
    db_url.add_argument(
        "--show-password", action="store_true", help="print the password instead of ***"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from roomcal_pipeline.cli.runner import library_logs_to_file

    args = build_parser().parse_args(argv)
    try:
        with library_logs_to_file():  # warnings and library logs: the log file, not the console
            return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"roomcal: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("roomcal: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        psycopg = sys.modules.get("psycopg")  # a database error, if psycopg was ever loaded
        if psycopg is None or not isinstance(exc, psycopg.Error):
            raise
        from roomcal_pipeline.warehouse.database import database_error_line

        line = database_error_line(exc, os.environ.get("ROOMCAL_DATABASE_URL"))
        print(f"roomcal: warehouse error: {line}", file=sys.stderr)
        return 2


def _room_list(text: str | None) -> list[str] | None:
    """`--rooms a@x, b@x` as a list; None (every room) when not given."""
    return [r.strip() for r in text.split(",") if r.strip()] if text else None


def _warehouse(settings: Settings) -> str:
    import psycopg

    from roomcal_pipeline.warehouse.database import resolve_database_url
    from roomcal_pipeline.warehouse.schema import migrate

    url = resolve_database_url(settings.database_url, settings.data_dir)
    with psycopg.connect(url) as conn:
        migrate(conn)
    os.environ["ROOMCAL_DATABASE_URL"] = url  # the Dagster resource and dbt use the same one
    return url


def _execute(settings: Settings, start: date, end: date, rooms: list[str] | None) -> int:
    import psycopg

    from roomcal_pipeline.cli.report import run_summary
    from roomcal_pipeline.cli.runner import ensure_dagster_home, run_assets

    settings.require_rooms_file()
    settings.require_graph_credentials()
    url = _warehouse(settings)
    registered, _ = settings.load_registry()
    _preflight(settings, registered, rooms)
    ensure_dagster_home(settings.data_dir)
    result = run_assets(start, end, settings.data_dir, rooms)
    with psycopg.connect(url) as conn:
        print(run_summary(conn, result.run_id))
    return _finish(result)


def _preflight(settings: Settings, registered, selection: list[str] | None) -> None:
    """Before any Dagster run: the `--rooms` selection names registered rooms, and Graph
    answers and takes the credential (one request). ConfigError, one line, otherwise."""
    from roomcal_pipeline.graph.preflight import preflight_graph, selection_problem

    problem = selection_problem(selection, registered, "--rooms")
    if problem:
        raise ConfigError(problem)
    chosen = {s.lower() for s in selection or ()}
    emails = [
        r.email
        for r in registered
        if r.email and (not chosen or r.key in chosen or r.email in chosen)
    ]
    preflight_graph(settings, emails)


def _finish(result) -> int:
    """Exit status of a Dagster run: 0; 2 with the step's one line for a configuration
    error found inside the run (a Failure marked so); 1 with a one-line cause otherwise."""
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        line = _configuration_error(failure)
        if line:
            print(f"roomcal: {line}", file=sys.stderr)
            return 2
        cause = failure.event_specific_data.error.message.strip().splitlines()[0] if failure else ""
        if cause:
            from roomcal_pipeline.warehouse.database import scrub_secrets

            cause = scrub_secrets(cause, os.environ.get("ROOMCAL_DATABASE_URL"))
        print(f"roomcal: run {result.run_id} failed: {cause}", file=sys.stderr)
        return 1
    print(f"Dagster run {result.run_id} succeeded (DAGSTER_HOME={os.environ['DAGSTER_HOME']}).")
    return 0


def _configuration_error(failure) -> str | None:
    """The description of a step failure raised as a configuration error, if it is one."""
    from roomcal_pipeline.defs.resources import CONFIGURATION_ERROR

    data = failure.event_specific_data.user_failure_data if failure is not None else None
    if data is None or CONFIGURATION_ERROR not in (data.metadata or {}):
        return None
    from roomcal_pipeline.warehouse.database import scrub_secrets

    lines = (data.description or "").strip().splitlines()
    return scrub_secrets(lines[0], os.environ.get("ROOMCAL_DATABASE_URL")) if lines else None


def cmd_run(args) -> int:
    from roomcal_pipeline.cli.runner import check_run_dates

    start, end = _date(args.start, "--start"), _date(args.end, "--end")
    check_run_dates(start, end)  # before any other check: they may take a while
    settings = Settings.from_env()
    rooms = _room_list(args.rooms)
    return _execute(settings, start, end, rooms)


def cmd_demo(args) -> int:
    from roomcal_pipeline.config.settings import history_start_from_env
    from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer

    today = date.today()
    first = history_start_from_env()
    most = (today - first).days // 7
    if most < 1:
        raise ConfigError(
            f"ROOMCAL_HISTORY_START {first} leaves less than a week of daily partitions "
            "for the demo: unset it or set it a week back or more"
        )
    if not 1 <= args.weeks <= most:
        raise ConfigError(
            f"--weeks must be between 1 and {most} (the first daily partition is "
            f"{first}); got {args.weeks}"
        )
    settings = Settings.from_env()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    tenant = SimulatedTenant(seed=42, today=today)
    rooms_file = data_dir / "demo_rooms.csv"
    rooms_file.write_text(tenant.registry_csv(), encoding="utf-8")
    with SimulatorServer(tenant).start() as server:
        os.environ.update(
            ROOMCAL_GRAPH_BASE_URL=server.base_url,
            ROOMCAL_GRAPH_TOKEN="sim-token",
            ROOMCAL_ROOMS_FILE=str(rooms_file),
        )
        settings = Settings.from_env()
        start = today - timedelta(weeks=args.weeks)
        print(
            f"roomcal demo: simulated tenant at {server.base_url}, local dates {start} to {today}"
        )
        code = _execute(settings, start, today, None)
    # roomcal never starts `dagster dev`; it prints the command. Ctrl-C in the terminal stops
    # `dagster dev` (1.13) and its webserver, daemon and code servers within seconds (it waits
    # up to 60 s per process, then kills it). Started in the background by a script, it
    # inherits an ignored SIGINT and then ignores SIGTERM too (Dagster maps SIGTERM to the
    # SIGINT handler): stop such a one with SIGKILL on its process group.
    print(
        "\nOpen the Dagster UI on this result:\n"
        f"  DAGSTER_HOME={os.environ['DAGSTER_HOME']} ROOMCAL_DATA_DIR={data_dir} "
        "dagster dev -w workspace.yaml\n"
        "To materialize from the UI, serve the tenant too: roomcal simulate "
        f"--rooms-file {rooms_file}\n"
        f"  and export ROOMCAL_GRAPH_BASE_URL=http://127.0.0.1:8765/v1.0 "
        f"ROOMCAL_GRAPH_TOKEN=sim-token ROOMCAL_ROOMS_FILE={rooms_file}"
    )
    return code


def cmd_status(args) -> int:
    import psycopg

    from roomcal_pipeline.cli.report import status_table

    url = _warehouse(Settings.from_env())
    with psycopg.connect(url) as conn:
        print(status_table(conn))
    return 0


def cmd_sync(args) -> int:
    import psycopg

    from roomcal_pipeline.cli.report import run_summary
    from roomcal_pipeline.cli.runner import ensure_dagster_home, run_sync
    from roomcal_pipeline.warehouse.rooms import refresh_registry

    settings = Settings.from_env()
    settings.require_graph_credentials()
    url = _warehouse(settings)
    with psycopg.connect(url) as conn:
        registered, issues = refresh_registry(conn, settings)
    for issue in issues:
        print(f"room registry {issue}", file=sys.stderr)
    rooms = _room_list(args.rooms)
    _preflight(settings, registered, rooms)
    ensure_dagster_home(settings.data_dir)
    result = run_sync(settings.data_dir, rooms)
    if result.success and result.output_for_node("sync_room_calendars").get("skipped"):
        from roomcal_pipeline.defs.sync import SKIPPED_MESSAGE

        print(f"{SKIPPED_MESSAGE} (it syncs every room; run {result.run_id}).")
        return 0
    with psycopg.connect(url) as conn:
        print(run_summary(conn, result.run_id))
    return _finish(result)


def cmd_simulate(args) -> int:
    from roomcal_pipeline.simulator import SimulatedTenant
    from roomcal_pipeline.simulator.__main__ import (
        SimulatorStartError,
        check_port,
        serve,
        write_registry,
    )

    try:
        check_port(args.host, args.port)  # before writing anything
        tenant = SimulatedTenant(seed=args.seed)
        if args.rooms_file:
            written = write_registry(
                args.rooms_file, tenant.registry_csv(), force=args.force, option="--rooms-file"
            )
            state = "written to" if written else "already up to date in"
            print(f"registry {state} {args.rooms_file}")
        print(
            f"simulated tenant on http://{args.host}:{args.port}/v1.0 (token: sim-token); "
            "Ctrl-C stops"
        )
        serve(tenant, None, args.host, args.port, "sim-token")
    except SimulatorStartError as exc:
        raise ConfigError(str(exc)) from None
    return 0


def cmd_stop_db(args) -> int:
    from roomcal_pipeline.warehouse.database import stop_embedded

    settings = Settings.from_env()
    stopped = stop_embedded(settings.data_dir)
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def cmd_db_url(args) -> int:
    """The warehouse URL on stdout (`psql "$(roomcal db-url)"`), a note on stderr."""
    from roomcal_pipeline.warehouse.database import parse_database_url, redact_url, start_embedded

    settings = Settings.from_env()
    if settings.database_url:
        url = settings.database_url.strip()
        parse_database_url(url)  # ConfigError, one line without the password, if unreadable
        shown = url if args.show_password else redact_url(url)
        print(shown)
        if "***" in shown and "***" not in url:
            print("roomcal: the password is shown as ***: add --show-password", file=sys.stderr)
        return 0
    url = start_embedded(settings.data_dir)  # started if it was not: the URL must answer
    print(url)
    if str(parse_database_url(url).get("host", "")).startswith("/"):  # pgserver on POSIX
        print(
            "roomcal: the embedded PostgreSQL (no password) listens on a Unix socket only, no "
            "TCP port: psql and libpq clients can use this URL; for Metabase or Power BI see "
            "README, Connect a SQL client or BI tool",
            file=sys.stderr,
        )
    return 0


_COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "sync": cmd_sync,
    "status": cmd_status,
    "simulate": cmd_simulate,
    "stop-db": cmd_stop_db,
    "db-url": cmd_db_url,
}

if __name__ == "__main__":
    sys.exit(main())
