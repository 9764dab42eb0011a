"""`python -m roomcal_pipeline.simulator`: serve a simulated tenant in its own process."""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from datetime import date
from pathlib import Path

from .faults import FaultConfig
from .server import serve_forever
from .tenant import SimulatedTenant


class SimulatorStartError(Exception):
    """The simulator cannot start as asked; its message is one line naming the option."""


def write_registry(path: Path, text: str, *, force: bool, option: str) -> bool:
    """Write the registry CSV to `path`; True when written. An existing file with other
    content is never overwritten without `force` (it may be the user's own registry); one
    that already holds exactly `text` is left as it is."""
    if path.is_dir():
        raise SimulatorStartError(f"{option} {path} is a folder: name a file")
    if path.exists() and not force:
        try:
            same = path.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if same:
            return False
        raise SimulatorStartError(
            f"{option} {path} already exists: pass --force to overwrite it, or name another file"
        )
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SimulatorStartError(
            f"{option} {path}: cannot write it: {exc.strerror or type(exc).__name__}"
        ) from None
    return True


def bind_problem(host: str, port: int, exc: OSError) -> str:
    """What a failed bind means, in one line."""
    where = f"cannot serve on {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is already in use (another simulator?); choose another --port"
    if exc.errno == errno.EACCES:
        return (
            f"{where}: permission denied (ports below 1024 need privileges); choose another --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {host} is not an address of this machine (--host)"
    if isinstance(exc, socket.gaierror):
        return f"{where}: --host {host!r} is not a known host name or address"
    return f"{where}: {exc.strerror or exc}"


def check_port(host: str, port: int) -> None:
    """SimulatorStartError, one line, when (host, port) cannot be bound (as aiohttp binds:
    SO_REUSEADDR). Done before anything is written; the bind itself is checked again."""
    if not 0 <= port <= 65535:
        raise SimulatorStartError(f"--port must be between 0 and 65535; got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise SimulatorStartError(bind_problem(host, port, exc)) from None


def serve(tenant: SimulatedTenant, faults, host: str, port: int, *args) -> None:
    """serve_forever, with a failed bind as SimulatorStartError (one line)."""
    try:
        serve_forever(tenant, faults, host, port, *args)
    except OSError as exc:
        if exc.errno is None and not isinstance(exc, socket.gaierror):
            raise
        raise SimulatorStartError(bind_problem(host, port, exc)) from None


def main(argv: list[str] | None = None) -> None:
    """Parse options, build the tenant and serve until interrupted."""
    p = argparse.ArgumentParser(
        prog="python -m roomcal_pipeline.simulator",
        description="Serve a simulated Microsoft Graph tenant.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--rooms-per-building", type=int, default=3)
    p.add_argument("--bookings-per-day", type=int, default=8)
    p.add_argument("--history-days", type=int, default=120)
    p.add_argument("--future-days", type=int, default=60)
    p.add_argument(
        "--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today UTC)"
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument(
        "--page-size", type=int, default=10, help="default page size without $top/Prefer"
    )
    p.add_argument("--token", default="sim-token")
    p.add_argument(
        "--canaries", action="store_true", help="fill non-allowlisted fields with canaries"
    )
    p.add_argument(
        "--registry-out", type=Path, default=None, help="write the room registry CSV here"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing --registry-out file")
    args = p.parse_args(argv)
    tenant = SimulatedTenant(
        seed=args.seed,
        rooms_per_building=args.rooms_per_building,
        bookings_per_day=args.bookings_per_day,
        canaries=args.canaries,
        history_days=args.history_days,
        future_days=args.future_days,
        today=args.today,
    )
    try:
        check_port(args.host, args.port)
        if args.registry_out:
            write_registry(
                args.registry_out, tenant.registry_csv(), force=args.force, option="--registry-out"
            )
        serve(
            tenant,
            FaultConfig(latency_ms=args.latency_ms),
            args.host,
            args.port,
            args.token,
            args.page_size,
        )
    except SimulatorStartError as exc:
        print(f"{p.prog}: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
