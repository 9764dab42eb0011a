"""`python -m roomcal_pipeline.simulator`: serve a simulated tenant in its own process."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from .faults import FaultConfig
from .server import serve_forever
from .tenant import SimulatedTenant


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
    if args.registry_out:
        args.registry_out.write_text(tenant.registry_csv(), encoding="utf-8")
    serve_forever(
        tenant,
        FaultConfig(latency_ms=args.latency_ms),
        args.host,
        args.port,
        args.token,
        args.page_size,
    )


if __name__ == "__main__":
    main()
