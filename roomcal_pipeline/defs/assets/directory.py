"""The organizer directory asset: each organizer's department, for organizer groups (docs/metrics.md)."""

import asyncio
from collections import Counter

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from roomcal_pipeline.defs.interrupts import run_interruptibly
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.graph.client import DirectoryEntry, GraphClient
from roomcal_pipeline.warehouse.directory import addresses_to_look_up, upsert_entries

_LOOKUP_CONCURRENCY = 8


async def look_up(client: GraphClient, addresses: list[str]) -> dict[str, DirectoryEntry]:
    """Departments of many organizers; after one 403 the rest are not asked (the
    permission is the app's, not the user's), so a tenant without User.Read.All costs
    one request."""
    results: dict[str, DirectoryEntry] = {}
    forbidden = asyncio.Event()
    slots = asyncio.Semaphore(_LOOKUP_CONCURRENCY)

    async def one(address: str) -> None:
        async with slots:
            if forbidden.is_set():
                results[address] = DirectoryEntry("forbidden")
                return
            entry = await client.department(address)
            if entry.status == "forbidden":
                forbidden.set()
            results[address] = entry

    await asyncio.gather(*(one(a) for a in addresses))
    return results


@asset(
    key=["raw", "organizer_directory"],
    deps=[AssetKey(["raw", "room_events"])],
    group_name="extraction",
    kinds={"postgres"},
    description="Department of each organizer seen in room events (Graph users endpoint, "
    "cached for a week): not_found means external, forbidden means no directory permission.",
)
def organizer_directory(
    context: AssetExecutionContext, roomcal: RoomcalResource
) -> MaterializeResult:
    with roomcal.connect() as conn:
        addresses = addresses_to_look_up(conn)
    context.log.info(f"looking up {len(addresses)} organizers in the directory")

    async def run() -> tuple[dict[str, DirectoryEntry], int]:
        async with roomcal.graph_client() as client:
            found = await look_up(client, addresses)
            return found, client.stats["directory"].requests

    entries, requests = run_interruptibly(run()) if addresses else ({}, 0)
    with roomcal.connect() as conn:
        upsert_entries(conn, ((a, e.department, e.status) for a, e in entries.items()))
        cached = conn.execute("select count(*) from raw.organizer_directory").fetchone()[0]
    statuses = Counter(e.status for e in entries.values())
    return MaterializeResult(
        metadata={
            "looked_up": len(entries),
            "found": statuses["found"],
            "not_found": statuses["not_found"],
            "forbidden": statuses["forbidden"],
            "errors": statuses["error"],
            "graph_requests": requests,
            "cached_organizers": cached,
        }
    )
