"""`roomcal`: demo, run, sync, status, simulate (SPEC section 3).

Exit status: 0 when the run completed, even with rooms not synced (they are
data); 2 with a one-line cause when configuration is wrong or the warehouse is
unreachable; 1 when the Dagster run itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from roomcal_pipeline.config.settings import ConfigError, Settings

DEMO_WEEKS = 3


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roomcal", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="zero-configuration demo on the simulated tenant")
    demo.add_argument("--weeks", type=int, default=DEMO_WEEKS, help="weeks to backfill (default 3)")
    run = sub.add_parser("run", help="materialize every asset for local dates [start, end)")
    run.add_argument("--start", type=_date, required=True)
    run.add_argument("--end", type=_date, required=True)
    run.add_argument("--rooms", help="comma-separated room emails: only these rooms")
    sync = sub.add_parser("sync", help="incremental delta sync of the rolling window")
    sync.add_argument("--rooms", help="comma-separated room emails: only these rooms")
    sub.add_parser("status", help="every registered room with its sync status")
    sim = sub.add_parser("simulate", help="serve the simulated tenant on a local port")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument("--rooms-file", type=Path, help="also write the tenant's registry CSV here")
    sub.add_parser("stop-db", help="stop the embedded PostgreSQL server")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"roomcal: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("roomcal: interrupted", file=sys.stderr)
        return 130


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
    ensure_dagster_home(settings.data_dir)
    result = run_assets(start, end, settings.data_dir, rooms)
    with psycopg.connect(url) as conn:
        print(run_summary(conn, result.run_id))
    return _finish(result)


def _finish(result) -> int:
    """Exit status of a Dagster run: 0, or 1 with a one-line cause."""
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        cause = failure.event_specific_data.error.message.strip().splitlines()[0] if failure else ""
        print(f"roomcal: run {result.run_id} failed: {cause}", file=sys.stderr)
        return 1
    print(f"Dagster run {result.run_id} succeeded (DAGSTER_HOME={os.environ['DAGSTER_HOME']}).")
    return 0


def cmd_run(args) -> int:
    settings = Settings.from_env()
    rooms = _room_list(args.rooms)
    return _execute(settings, args.start, args.end, rooms)


def cmd_demo(args) -> int:
    from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer

    settings = Settings.from_env()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    today = date.today()
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
        _, issues = refresh_registry(conn, settings)
    for issue in issues:
        print(f"room registry {issue}", file=sys.stderr)
    ensure_dagster_home(settings.data_dir)
    rooms = _room_list(args.rooms)
    result = run_sync(settings.data_dir, rooms)
    with psycopg.connect(url) as conn:
        print(run_summary(conn, result.run_id))
    return _finish(result)


def cmd_simulate(args) -> int:
    from roomcal_pipeline.simulator import SimulatedTenant
    from roomcal_pipeline.simulator.server import serve_forever

    tenant = SimulatedTenant(seed=args.seed)
    if args.rooms_file:
        args.rooms_file.write_text(tenant.registry_csv(), encoding="utf-8")
        print(f"registry written to {args.rooms_file}")
    print(
        f"simulated tenant on http://{args.host}:{args.port}/v1.0 (token: sim-token); Ctrl-C stops"
    )
    serve_forever(tenant, None, args.host, args.port, "sim-token")
    return 0


def cmd_stop_db(args) -> int:
    from roomcal_pipeline.warehouse.database import stop_embedded

    settings = Settings.from_env()
    stopped = stop_embedded(settings.data_dir)
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


_COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "sync": cmd_sync,
    "status": cmd_status,
    "simulate": cmd_simulate,
    "stop-db": cmd_stop_db,
}

if __name__ == "__main__":
    sys.exit(main())
