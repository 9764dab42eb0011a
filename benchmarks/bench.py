"""roomcal against dlt on the same Graph-shaped work: `python -m benchmarks.bench`.

For every size (rooms x days of local dates), the simulated tenant is served by
its own process (so its CPU is not counted), then each tool runs in a fresh
child process against a fresh PostgreSQL database, and reports its own figures:
events loaded, Graph requests, wall seconds, client CPU seconds (the child's
own user + system time), CPU microseconds per event and peak RSS. One table is
printed at the end, with the roomcal/dlt ratio of every figure.

- roomcal: `extract_rooms` (msgraph-sdk requests, raw pages parsed with orjson,
  the privacy allowlist, rows, COPY into raw.room_events), as the Dagster asset
  runs it.
- dlt: its REST API source reading the same rooms' calendarView pages (same
  local-date window per room, same $select, same page size via the Prefer
  header, bearer token, @odata.nextLink pagination) into its postgres
  destination, with dlt's defaults otherwise.

See benchmarks/README.md for the figures measured on the project's machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = os.environ.get(
    "ROOMCAL_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DEFAULT_TODAY = date(2025, 6, 2)  # fixed, so that every run serves the same events
GRAPH_MAILBOX_CONCURRENCY = 4  # Graph's limit; the client enforces it per mailbox


# ---------------------------------------------------------------------- figures
@dataclass
class Figures:
    tool: str
    events: int
    requests: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    rooms: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def us_per_event(self) -> float:
        return self.cpu_s * 1e6 / self.events if self.events else float("nan")


def _cpu_seconds(children: bool = False) -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    if children:  # processes the tool started and waited for (dlt's normalize pool, if any)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += kids.ru_utime + kids.ru_stime
    return total


def _usage() -> dict[str, float]:
    """User and system seconds and minor page faults so far (to tell where CPU goes)."""
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return {"user_s": u.ru_utime, "sys_s": u.ru_stime, "minor_faults": u.ru_minflt}


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------------- workers
def _worker_roomcal(spec: dict) -> dict:
    """Runs in its own process: roomcal's extraction + allowlist + load, timed."""
    import asyncio

    import psycopg

    from roomcal_pipeline.config.registry import parse_registry
    from roomcal_pipeline.extraction.load import extract_rooms
    from roomcal_pipeline.graph.client import GraphClient
    from roomcal_pipeline.graph.credentials import StaticTokenCredential
    from roomcal_pipeline.warehouse.schema import migrate

    if spec.get("chunk_days"):  # experiment: roomcal's window chunk (extraction/load.py)
        import roomcal_pipeline.extraction.load as load

        load.CHUNK_DAYS = spec["chunk_days"]
    rooms, issues = parse_registry(Path(spec["registry"]).read_text(encoding="utf-8"))
    if issues:
        raise SystemExit(f"registry issues: {issues}")
    url = spec["database_url"]
    with psycopg.connect(url) as conn:
        migrate(conn)
    start_date = date.fromisoformat(spec["start_date"])
    end_date = date.fromisoformat(spec["end_date"])

    async def run():
        async with GraphClient(
            spec["base_url"],
            StaticTokenCredential("sim-token"),
            page_size=spec["page_size"],
            max_concurrency=spec["max_concurrency"],
        ) as client:
            return await extract_rooms(
                rooms,
                start_date,
                end_date,
                client,
                url,
                spec["run_id"],
                room_concurrency=spec["room_concurrency"],
            )

    profile = spec.get("profile")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    usage0 = _usage()
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    results = asyncio.run(run())
    wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
    usage = {k: round(v - usage0[k], 3) for k, v in _usage().items()}
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    peak = _peak_rss_mb()
    with psycopg.connect(url) as conn:
        rows = conn.execute("select count(*) from raw.room_events").fetchone()[0]
        if spec.get("record"):  # what the marts read besides raw.room_events
            from roomcal_pipeline.warehouse.rooms import replace_rooms
            from roomcal_pipeline.warehouse.sync_results import record_results

            replace_rooms(conn, rooms)
            record_results(conn, spec["run_id"], start_date, end_date, results)
    return {
        "events": sum(r.events_loaded for r in results),
        "rows": rows,
        "quarantined": sum(r.events_quarantined for r in results),
        "not_synced": [f"{r.room_key}: {r.reason}" for r in results if r.status != "synced"],
        "requests": sum(r.stats.requests for r in results),
        "retries": sum(r.stats.retries for r in results),
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak,
        **usage,
    }


def _worker_dlt(spec: dict) -> dict:
    """Runs in its own process: dlt's REST API source into its postgres destination, timed."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import dlt
    import psycopg
    from dlt.sources.rest_api import rest_api_source

    from roomcal_pipeline.privacy.allowlist import GRAPH_SELECT_FIELDS

    requests_made = 0

    def count(response, *args, **kwargs):
        nonlocal requests_made
        requests_made += 1
        return response

    windows = spec["windows"]  # [{"email", "start", "end"}], each room's local-date window

    @dlt.resource(name="rooms", selected=False)
    def rooms():
        yield windows

    config = {
        "client": {
            "base_url": spec["base_url"].rstrip("/") + "/",
            "auth": {"type": "bearer", "token": "sim-token"},
            "headers": {"Prefer": f"odata.maxpagesize={spec['page_size']}"},
            "paginator": {"type": "json_link", "next_url_path": "['@odata.nextLink']"},
        },
        "resource_defaults": {"write_disposition": "append"},
        "resources": [
            rooms,
            {
                "name": "room_events",
                "endpoint": {
                    "path": "users/{resources.rooms.email}/calendarView",
                    "params": {
                        "startDateTime": "{resources.rooms.start}",
                        "endDateTime": "{resources.rooms.end}",
                        "$select": ",".join(GRAPH_SELECT_FIELDS),
                    },
                    "data_selector": "value",
                    "response_actions": [count],
                },
            },
        ],
    }
    pipelines_dir = tempfile.mkdtemp(prefix="roomcal-bench-dlt-")
    try:
        pipeline = dlt.pipeline(
            pipeline_name="roomcal_bench",
            pipelines_dir=pipelines_dir,
            destination=dlt.destinations.postgres(credentials=spec["database_url"]),
            dataset_name="graph",
            progress=None,
        )
        source = rest_api_source(config, parallelized=True)
        cpu0, wall0 = _cpu_seconds(children=True), time.perf_counter()
        pipeline.run(source)
        wall, cpu = time.perf_counter() - wall0, _cpu_seconds(children=True) - cpu0
        peak = _peak_rss_mb()
    finally:
        shutil.rmtree(pipelines_dir, ignore_errors=True)
    with psycopg.connect(spec["database_url"]) as conn:
        rows = conn.execute("select count(*) from graph.room_events").fetchone()[0]
    return {
        "events": rows,
        "rows": rows,
        "requests": requests_made,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak,
    }


def _worker_delta_idle(spec: dict) -> dict:
    """Runs in its own process: a first delta sync of every room (untimed), then a second
    one with nothing changed in the tenant (timed): the cost of an idle sync."""
    import asyncio

    import psycopg

    from roomcal_pipeline.config.registry import parse_registry
    from roomcal_pipeline.extraction.delta import sync_rooms, sync_window
    from roomcal_pipeline.graph.client import GraphClient
    from roomcal_pipeline.graph.credentials import StaticTokenCredential
    from roomcal_pipeline.warehouse.schema import migrate

    rooms, _ = parse_registry(Path(spec["registry"]).read_text(encoding="utf-8"))
    url = spec["database_url"]
    with psycopg.connect(url) as conn:
        migrate(conn)
    today = date.fromisoformat(spec["today"])

    async def run(run_id: str, day: date):
        start_date, end_date = day - timedelta(days=7), day + timedelta(days=28)
        async with GraphClient(
            spec["base_url"],
            StaticTokenCredential("sim-token"),
            page_size=spec["page_size"],
            max_concurrency=spec["max_concurrency"],
        ) as client:
            return await sync_rooms(
                rooms,
                client,
                url,
                run_id,
                start_date,
                end_date,
                room_concurrency=spec["room_concurrency"],
                window_for=lambda room: sync_window(room.email, day),
            )

    def timed(run_id: str, day: date) -> tuple[list, float, float]:
        cpu0, wall0 = _cpu_seconds(), time.perf_counter()
        results = asyncio.run(run(run_id, day))
        return results, time.perf_counter() - wall0, _cpu_seconds() - cpu0

    first, first_wall, _ = timed("bench-delta-first", today)
    idle, wall, cpu = timed("bench-delta-idle", today)
    # The next day: the rooms whose restart day it is read their next window in full.
    rolled, rolled_wall, rolled_cpu = timed("bench-delta-next-day", today + timedelta(days=1))
    return {
        "rooms": len(rooms),
        "first_requests": sum(r.stats.requests for r in first),
        "first_events": sum(r.events_loaded for r in first),
        "first_wall_s": first_wall,
        "requests": sum(r.stats.requests for r in idle),
        "changes": sum(r.changes for r in idle),
        "not_synced": [f"{r.room_key}: {r.reason}" for r in idle if r.status != "synced"],
        "wall_s": wall,
        "cpu_s": cpu,
        "next_day_requests": sum(r.stats.requests for r in rolled),
        "next_day_restarts": sum(r.read_in_full for r in rolled),
        "next_day_events": sum(r.events_loaded for r in rolled),
        "next_day_wall_s": rolled_wall,
        "next_day_cpu_s": rolled_cpu,
        "peak_rss_mb": _peak_rss_mb(),
    }


_WORKERS = {"roomcal": _worker_roomcal, "dlt": _worker_dlt, "delta-idle": _worker_delta_idle}


# ---------------------------------------------------------------------- harness
@dataclass
class Size:
    rooms: int
    days: int

    @classmethod
    def parse(cls, text: str) -> Size:
        try:
            rooms, days = (int(x) for x in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not ROOMSxDAYS, e.g. 24x91") from None
        if rooms < 1 or days < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: rooms and days must be positive")
        return cls(rooms, days)

    def __str__(self) -> str:
        return f"{self.rooms}x{self.days}"


class Simulator:
    """`python -m roomcal_pipeline.simulator` in its own process, on a free port."""

    def __init__(
        self,
        args: argparse.Namespace,
        size: Size,
        history_days: int | None = None,
        future_days: int = 2,
    ) -> None:
        self.cmd = [
            sys.executable,
            "-m",
            "roomcal_pipeline.simulator",
            "--port",
            "0",
            "--seed",
            str(args.seed),
            "--rooms-per-building",
            str(rooms_per_building(size)),
            "--bookings-per-day",
            str(args.bookings_per_day),
            "--history-days",
            str(history_days or size.days + 2),
            "--future-days",
            str(future_days),
            "--today",
            args.today.isoformat(),
            "--latency-ms",
            str(args.latency_ms),
        ]
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> Simulator:
        self.proc = subprocess.Popen(
            self.cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.proc.stdout.readline()  # "roomcal simulator serving http://...:PORT/v1.0 ..."
        words = [w for w in line.split() if w.startswith("http://")]
        if not words:
            self.__exit__()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.base_url = words[0]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def rooms_per_building(size: Size) -> int:
    return max(1, math.ceil(size.rooms / 4))  # the simulated tenant has four buildings


def _tenant(args: argparse.Namespace, size: Size):
    from roomcal_pipeline.simulator import SimulatedTenant

    return SimulatedTenant(
        seed=args.seed,
        rooms_per_building=rooms_per_building(size),
        bookings_per_day=args.bookings_per_day,
        history_days=size.days + 2,
        future_days=2,
        today=args.today,
    )


def selected_registry(tenant, count: int) -> str:
    """The registry CSV restricted to `count` healthy rooms, taken round-robin over buildings
    (the tenant's deliberately failing rooms would only measure error handling)."""
    healthy = [r for r in tenant.rooms if r.email and r.failure is None and r.in_registry]
    by_building: dict[str, list] = {}
    for room in healthy:
        by_building.setdefault(room.building, []).append(room)
    order = sorted(
        healthy,
        key=lambda r: (by_building[r.building].index(r), list(by_building).index(r.building)),
    )
    keep = {r.email for r in order[:count]}
    lines = tenant.registry_csv().splitlines()
    return "\n".join([lines[0]] + [ln for ln in lines[1:] if ln.split(",", 1)[0] in keep]) + "\n"


def expected_events(tenant, registry_text: str, start: date, end: date) -> int:
    """Ground truth: events that overlap each room's local-date window (a window owns every
    event it overlaps; all-day events are floating dates in the room's zone)."""
    from zoneinfo import ZoneInfo

    from roomcal_pipeline.config.registry import parse_registry
    from roomcal_pipeline.extraction.load import local_window

    rooms, _ = parse_registry(registry_text)
    total = 0
    for room in rooms:
        ws, we = local_window(room, start, end)
        zone = ZoneInfo(room.timezone)
        for event in tenant.calendar_view(room.email, ws, we):
            lo, hi = (_instant(event[k], event.get("isAllDay"), zone) for k in ("start", "end"))
            total += (ws <= lo < we) if lo == hi else (lo < we and hi > ws)
    return total


def _instant(pair: dict, all_day: bool, zone) -> datetime:
    """Ground truth's own reading of a Graph time (the simulator answers in UTC)."""
    if all_day:
        day = date.fromisoformat(pair["dateTime"][:10])
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    assert pair["timeZone"] == "UTC"
    return datetime.fromisoformat(pair["dateTime"][:26]).replace(tzinfo=UTC)


def room_windows(registry_text: str, start: date, end: date) -> list[dict]:
    from roomcal_pipeline.config.registry import parse_registry
    from roomcal_pipeline.extraction.load import local_window
    from roomcal_pipeline.graph.parse import format_graph_datetime

    rooms, _ = parse_registry(registry_text)
    out = []
    for room in rooms:
        ws, we = local_window(room, start, end)
        out.append(
            {
                "email": room.email,
                "start": format_graph_datetime(ws),
                "end": format_graph_datetime(we),
            }
        )
    return out


class Databases:
    """Scratch databases on the PostgreSQL server, dropped at the end."""

    def __init__(self, admin_url: str, keep: bool) -> None:
        self.admin_url, self.keep, self.names = admin_url, keep, []

    def fresh(self, name: str) -> str:
        import psycopg
        from psycopg.conninfo import make_conninfo

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
            conn.execute(f'create database "{name}"')
        if name not in self.names:
            self.names.append(name)
        return make_conninfo(self.admin_url, dbname=name)

    def drop_all(self) -> None:
        if self.keep:
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'drop database if exists "{name}" with (force)')


def _as_url(conninfo: str) -> str:
    """dlt wants a URL with a password (psycopg's conninfo may be key=value, and the
    benchmark's server may use trust authentication, which ignores the password)."""
    from psycopg.conninfo import conninfo_to_dict

    p = conninfo_to_dict(conninfo)
    auth = f"{p.get('user', 'postgres')}:{p.get('password') or 'unused'}"
    return f"postgresql://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


def run_worker(tool: str, spec: dict, py_spy: Path | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    cmd = [sys.executable, "-m", "benchmarks.bench", "--worker", tool, fh.name]
    if py_spy is not None:  # sampled, so the figures stay close to an unprofiled run
        spy = Path(sys.executable).parent / "py-spy"
        cmd = [
            str(spy),
            "record",
            "--format",
            "raw",
            "--rate",
            "250",
            "-o",
            str(py_spy),
            "--",
            *cmd,
        ]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(fh.name)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} worker failed:\n{proc.stderr[-4000:]}")
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])


def dlt_available() -> bool:
    try:
        import dlt  # noqa: F401
        from dlt.sources.rest_api import rest_api_source  # noqa: F401
    except ImportError:
        return False
    return True


def run_dbt(url: str, args: list[str], workdir: Path) -> float:
    from roomcal_pipeline.warehouse.database import dbt_connection_env

    dbt = Path(sys.executable).parent / "dbt"
    cmd = [
        str(dbt) if dbt.exists() else "dbt",
        "build",
        "--project-dir",
        str(REPO / "dbt_project"),
        "--profiles-dir",
        str(REPO / "dbt_project"),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
        *args,
    ]
    env = {**os.environ, **dbt_connection_env(url)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-4000:]}")
    return elapsed


def _last_weekday_before(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


# ---------------------------------------------------------------------- table
def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def render(rows: list[tuple[Size, dict[str, Figures], float | None]], latency_ms: float) -> str:
    head = (
        "size",
        "tool",
        "events",
        "requests",
        "req/room",
        "wall s",
        "bound s",
        "CPU s",
        "CPU µs/event",
        "peak RSS MB",
    )
    lines: list[tuple[str, ...]] = [head]
    for size, figures, bound in rows:
        for fig in figures.values():
            lines.append(
                (
                    str(size),
                    fig.tool,
                    _fmt(fig.events),
                    _fmt(fig.requests),
                    _fmt(fig.requests / fig.rooms),
                    _fmt(fig.wall_s, 2),
                    _fmt(bound, 2) if fig.tool == "roomcal" and latency_ms else "-",
                    _fmt(fig.cpu_s, 2),
                    _fmt(fig.us_per_event, 0),
                    _fmt(fig.peak_rss_mb, 0),
                )
            )
        if "roomcal" in figures and "dlt" in figures:
            a, b = figures["roomcal"], figures["dlt"]

            def ratio(x: float, y: float) -> str:
                return f"{x / y:.2f}" if y else "-"

            lines.append(
                (
                    str(size),
                    "roomcal/dlt",
                    ratio(a.events, b.events),
                    ratio(a.requests, b.requests),
                    "",
                    ratio(a.wall_s, b.wall_s),
                    "",
                    ratio(a.cpu_s, b.cpu_s),
                    ratio(a.us_per_event, b.us_per_event),
                    ratio(a.peak_rss_mb, b.peak_rss_mb),
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("| " + " | ".join(cells) + " |")
        if n == 0:
            out.append(
                "|"
                + "|".join(
                    "-" * (w + 1) + ":" if i >= 2 else "-" * (w + 2) for i, w in enumerate(widths)
                )
                + "|"
            )
    return "\n".join(out)


def delta_idle(args: argparse.Namespace) -> int:
    """The Graph budget of an idle delta sync: requests, and wall time against the bound."""
    size = Size(args.delta_idle, 2)
    args.bookings_per_day = min(args.bookings_per_day, 2)  # an idle round reads no events
    tenant = _tenant(args, size)
    registry = selected_registry(tenant, size.rooms)
    rooms_count = len(registry.splitlines()) - 1
    dbs = Databases(args.admin_url, args.keep_db)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="roomcal-bench-") as tmp,
            # Calendars as far as a room's delta window reaches (63 days around today).
            Simulator(args, size, history_days=40, future_days=60) as sim,
        ):
            registry_path = Path(tmp) / "rooms.csv"
            registry_path.write_text(registry, encoding="utf-8")
            out = run_worker(
                "delta-idle",
                {
                    "base_url": sim.base_url,
                    "database_url": dbs.fresh(f"bench_delta_{os.getpid()}"),
                    "registry": str(registry_path),
                    "page_size": args.page_size,
                    "today": args.today.isoformat(),
                    "room_concurrency": args.room_concurrency,
                    "max_concurrency": args.max_concurrency,
                },
            )
    finally:
        dbs.drop_all()
    # An idle round is one request per room, so only rooms in flight run in parallel.
    parallelism = min(args.room_concurrency, args.max_concurrency, rooms_count)
    bound = out["requests"] * args.latency_ms / 1000 / parallelism
    print(
        f"idle delta sync: {rooms_count:,} rooms, latency {args.latency_ms:g} ms, "
        f"room concurrency {args.room_concurrency}"
    )
    print(
        f"| rooms | requests | req/room | changes | wall s | bound s | wall/bound | CPU s |\n"
        f"|------:|---------:|---------:|--------:|-------:|--------:|-----------:|------:|\n"
        f"| {rooms_count:,} | {out['requests']:,} | {out['requests'] / rooms_count:.2f} | "
        f"{out['changes']:,} | {out['wall_s']:.2f} | {bound:.2f} | "
        f"{out['wall_s'] / bound if bound else float('nan'):.2f} | {out['cpu_s']:.2f} |"
    )
    print(
        f"bound = requests x latency / parallelism {parallelism} (one request per room in an "
        f"idle round, {args.room_concurrency} rooms at once); the first sync before it made "
        f"{out['first_requests']:,} requests for {out['first_events']:,} events"
    )
    print(
        f"the next day: {out['next_day_restarts']:,} rooms restart their window "
        f"({out['next_day_restarts'] / rooms_count:.1%}), {out['next_day_requests']:,} "
        f"requests, {out['next_day_events']:,} events read, {out['next_day_wall_s']:.2f} s "
        f"wall, {out['next_day_cpu_s']:.2f} s CPU; peak RSS {out['peak_rss_mb']:.0f} MB"
    )
    if out["not_synced"]:
        print(f"rooms not synced: {out['not_synced']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


def directory(args: argparse.Namespace) -> int:
    """The first directory run over N distinct organizers: requests, batches, and how each
    address resolved, through the real client against the simulated directory."""
    import asyncio

    from roomcal_pipeline.defs.assets.directory import directory_metadata
    from roomcal_pipeline.graph.client import GraphClient
    from roomcal_pipeline.graph.credentials import StaticTokenCredential
    from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer

    organizers = args.directory
    externals = organizers // 10
    tenant = SimulatedTenant(seed=args.seed, today=args.today, people=organizers - externals)
    # Each person organises from the address they use: an alias where they have one.
    addresses = [u.aliases[0] if u.aliases else u.address for u in tenant.users]
    addresses += [f"guest{i}@fabrikam{i % 7}.example" for i in range(externals)]
    faults = FaultConfig(latency_ms=args.latency_ms)

    async def run(base_url: str) -> tuple[dict, int, int]:
        async with GraphClient(base_url, StaticTokenCredential("sim-token")) as client:
            entries = await client.departments(addresses)
            return entries, client.stats["directory"].requests, client.directory_batches

    with SimulatorServer(tenant, faults) as server:
        cpu, wall = time.process_time(), time.perf_counter()
        entries, requests, batches = asyncio.run(run(server.base_url))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    meta = directory_metadata(entries, requests, batches)
    wrong = sum(
        1
        for a, e in entries.items()
        if (e.status == "found") != (tenant.org.user(a) is not None)
        or (e.status == "found" and e.department != tenant.department(a))
    )
    print(
        f"first directory run: {len(addresses):,} distinct organizers, latency {args.latency_ms:g} ms"
    )
    print(
        "| organizers | requests | by UPN | by mail | by proxy | external | failed | wall s | CPU s |\n"
        "|-----------:|---------:|-------:|--------:|---------:|---------:|-------:|-------:|------:|\n"
        f"| {len(addresses):,} | {requests:,} | {meta['resolved_by_upn']:,} | "
        f"{meta['resolved_by_mail']:,} | {meta['resolved_by_proxy_address']:,} | "
        f"{meta['external']:,} | {meta['failed'] + meta['forbidden']:,} | {wall:.2f} | {cpu:.2f} |"
    )
    print(f"answers that differ from the simulator's directory: {wrong}")
    if args.json:
        args.json.write_text(json.dumps({**meta, "wall_s": wall, "cpu_s": cpu}, indent=2))
    return 1 if wrong else 0


# ---------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="roomcal's extraction + allowlist + load against dlt's REST API source, "
        "on the simulated tenant served by its own process.",
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        type=Size.parse,
        default=[Size(24, 91)],
        metavar="ROOMSxDAYS",
        help="rooms x days of local dates to backfill, one run per size (default 24x91, "
        "about 30k events at 20 bookings per day)",
    )
    p.add_argument("--bookings-per-day", type=int, default=20)
    p.add_argument("--page-size", type=int, default=500, help="odata.maxpagesize (default 500)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="simulated latency per request")
    p.add_argument(
        "--tools",
        nargs="+",
        choices=("roomcal", "dlt"),
        default=["roomcal", "dlt"],
        help="dlt is skipped with a note when it is not installed (pip install -e '.[bench]')",
    )
    p.add_argument("--room-concurrency", type=int, default=8, help="roomcal: rooms at once")
    p.add_argument(
        "--max-concurrency", type=int, default=16, help="roomcal: Graph requests in flight"
    )
    p.add_argument(
        "--chunk-days",
        type=int,
        help="experiment: override roomcal's CHUNK_DAYS (days of window per calendarView "
        "request chain) in the benchmark's process",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--today", type=date.fromisoformat, default=DEFAULT_TODAY)
    p.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL to create DBs in")
    p.add_argument(
        "--check",
        action="store_true",
        help="compare roomcal's events with what the simulator serves for the window",
    )
    p.add_argument(
        "--marts", action="store_true", help="time dbt build over roomcal's load at each size"
    )
    p.add_argument("--profile", type=Path, help="cProfile roomcal's run into this file")
    p.add_argument(
        "--py-spy",
        type=Path,
        help="sample roomcal's worker with py-spy into this file (collapsed stacks)",
    )
    p.add_argument(
        "--delta-idle",
        type=int,
        metavar="ROOMS",
        help="instead of the table: an idle delta sync of this many rooms (a first sync, "
        "then a timed one with nothing changed), e.g. --delta-idle 1000 --latency-ms 50",
    )
    p.add_argument(
        "--directory",
        type=int,
        metavar="ORGANIZERS",
        help="instead of the table: the first directory run over this many distinct "
        "organizers (a tenth of them external), e.g. --directory 1000",
    )
    p.add_argument("--json", type=Path, help="also write every raw figure here")
    p.add_argument("--keep-db", action="store_true", help="do not drop the scratch databases")
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        tool, spec_path = args.worker
        result = _WORKERS[tool](json.loads(Path(spec_path).read_text()))
        print(json.dumps(result))
        return 0

    if args.delta_idle:
        return delta_idle(args)
    if args.directory:
        return directory(args)
    tools = list(dict.fromkeys(args.tools))
    notes: list[str] = []
    if "dlt" in tools and not dlt_available():
        tools.remove("dlt")
        notes.append("dlt: not installed, skipped (pip install -e '.[bench]')")
    dbs = Databases(args.admin_url, args.keep_db)
    tag = f"{os.getpid()}"
    rows: list[tuple[Size, dict[str, Figures], float | None]] = []
    marts: list[str] = []
    status = 0
    try:
        for size in args.sizes:
            tenant = _tenant(args, size)
            registry = selected_registry(tenant, size.rooms)
            rooms_count = len(registry.splitlines()) - 1
            end = args.today
            start = end - timedelta(days=size.days)
            with tempfile.TemporaryDirectory(prefix="roomcal-bench-") as tmp:
                registry_path = Path(tmp) / "rooms.csv"
                registry_path.write_text(registry, encoding="utf-8")
                figures: dict[str, Figures] = {}
                with Simulator(args, size) as sim:
                    for tool in tools:
                        url = dbs.fresh(f"bench_{tool}_{tag}")
                        spec = {
                            "base_url": sim.base_url,
                            "database_url": url if tool == "roomcal" else _as_url(url),
                            "page_size": args.page_size,
                            "start_date": start.isoformat(),
                            "end_date": end.isoformat(),
                        }
                        if tool == "roomcal":
                            spec |= {
                                "registry": str(registry_path),
                                "room_concurrency": args.room_concurrency,
                                "max_concurrency": args.max_concurrency,
                                "run_id": f"bench-{uuid.uuid4().hex[:8]}",
                                "record": args.marts,
                                "profile": str(args.profile) if args.profile else None,
                                "chunk_days": args.chunk_days,
                            }
                        else:
                            spec["windows"] = room_windows(registry, start, end)
                        out = run_worker(tool, spec, args.py_spy if tool == "roomcal" else None)
                        figures[tool] = Figures(
                            tool,
                            out["events"],
                            out["requests"],
                            out["wall_s"],
                            out["cpu_s"],
                            out["peak_rss_mb"],
                            rooms_count,
                            out,
                        )
                        if out.get("not_synced"):
                            notes.append(f"{size} {tool}: rooms not synced: {out['not_synced']}")
                        if out.get("quarantined"):
                            notes.append(f"{size} {tool}: {out['quarantined']} events quarantined")
                        if tool == "roomcal" and args.marts:
                            day = _last_weekday_before(end)
                            full = run_dbt(url, [], Path(tmp))
                            vars_ = json.dumps(
                                {
                                    "min_date": day.isoformat(),
                                    "max_date": (day + timedelta(days=1)).isoformat(),
                                }
                            )
                            one = run_dbt(
                                url, ["--select", "tag:partitioned", "--vars", vars_], Path(tmp)
                            )
                            marts.append(
                                f"{size}: dbt build of every model over {out['events']:,} "
                                f"events {full:.1f} s; one daily partition ({day}, "
                                f"tag:partitioned) {one:.1f} s"
                            )
                if "roomcal" in figures and args.check:
                    want = expected_events(tenant, registry, start, end)
                    got = figures["roomcal"]
                    ok = want == got.events == got.extra["rows"]
                    notes.append(
                        f"check {size}: roomcal loaded {got.events:,} events "
                        f"({got.extra['rows']:,} rows), the simulator serves {want:,} "
                        f"for the window: {'OK' if ok else 'MISMATCH'}"
                    )
                    status = status or (0 if ok else 1)
            parallelism = min(
                GRAPH_MAILBOX_CONCURRENCY * min(args.room_concurrency, rooms_count),
                args.max_concurrency,
            )
            bound = None
            if args.latency_ms and "roomcal" in figures:
                bound = figures["roomcal"].requests * args.latency_ms / 1000 / parallelism
            rows.append((size, figures, bound))
    finally:
        dbs.drop_all()

    print(
        f"roomcal vs dlt: {args.bookings_per_day} bookings/day, page size {args.page_size}, "
        f"latency {args.latency_ms:g} ms, today {args.today}, "
        f"roomcal room concurrency {args.room_concurrency}, max concurrency {args.max_concurrency}"
    )
    print(render(rows, args.latency_ms))
    if args.latency_ms:
        for size, figures, bound in rows:
            if bound and "roomcal" in figures:
                r = figures["roomcal"]
                print(
                    f"latency {size}: roomcal wall {r.wall_s:.2f} s, bound {bound:.2f} s "
                    f"({r.requests:,} requests x {args.latency_ms:g} ms / parallelism "
                    f"{min(GRAPH_MAILBOX_CONCURRENCY * min(args.room_concurrency, r.rooms), args.max_concurrency)}"
                    f"): {r.wall_s / bound:.2f}x the bound"
                )
    for size, figures, _ in rows:
        if "roomcal" in figures:
            r = figures["roomcal"]
            print(
                f"graph budget {size}: backfill of {size.days} days = "
                f"{r.requests / r.rooms:.1f} requests per room"
            )
    print("graph budget, idle delta sync: run with --delta-idle ROOMS (e.g. 1000 --latency-ms 50)")
    for line in marts + notes:
        print(line)
    if args.json:
        raw = [
            {"size": str(size), "bound_s": bound, **{t: f.extra for t, f in figures.items()}}
            for size, figures, bound in rows
        ]
        args.json.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
