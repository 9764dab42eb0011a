"""The organizer directory asset: each organizer's department, for organizer groups (docs/metrics.md)."""

from collections import Counter

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from roomcal_pipeline.defs.interrupts import run_interruptibly
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.graph.client import DirectoryEntry, GraphClient
from roomcal_pipeline.warehouse.directory import (
    addresses_to_look_up,
    new_organizers,
    upsert_entries,
)


async def look_up(client: GraphClient, addresses: list[str]) -> dict[str, DirectoryEntry]:
    """Departments of many organizers: one batched lookup by UPN, mail or proxy address
    (GraphClient.departments); after a 403 nobody else is asked (the permission is the
    app's, not the user's), so a tenant without User.Read.All costs one request."""
    return await client.departments(addresses) if addresses else {}


def directory_metadata(
    entries: dict[str, DirectoryEntry], requests: int, batches: int, groups_changed: int = 0
) -> dict:
    """What a directory run resolved and what it cost (raw/organizer_directory metadata)."""
    how = Counter(e.via if e.status == "found" else e.status for e in entries.values())
    return {
        "looked_up": len(entries),
        "resolved_by_upn": how["upn"],
        "resolved_by_mail": how["mail"],
        "resolved_by_proxy_address": how["proxy"],
        "external": how["not_found"],
        "forbidden": how["forbidden"],
        "failed": how["error"],
        "groups_changed": groups_changed,
        "requests": requests,
        "batches": batches,
    }


def resolve_and_store(
    roomcal: RoomcalResource, addresses: list[str], run_id: str | None = None
) -> dict:
    """Look addresses up in the directory and store the answers that improve the state;
    organizers whose group changed are marked with `run_id`, whose marts build then
    covers every date they booked (defs/assets/marts.py `changed_window`)."""

    async def run() -> tuple[dict[str, DirectoryEntry], int, int]:
        async with roomcal.graph_client() as client:
            found = await look_up(client, addresses)
            return found, client.stats["directory"].requests, client.directory_batches

    entries, requests, batches = run_interruptibly(run()) if addresses else ({}, 0, 0)
    with roomcal.connect() as conn:
        changed = upsert_entries(
            conn, ((a, e.department, e.status) for a, e in entries.items()), run_id
        )
    return directory_metadata(entries, requests, batches, changed)


# New organizers one `roomcal sync` resolves before its marts refresh: 100 per `$batch`,
# so at most 10 directory requests; the rest wait for the next sync or run.
SYNC_DIRECTORY_BUDGET = 1000


def resolve_new_organizers(roomcal: RoomcalResource, limit: int = SYNC_DIRECTORY_BUDGET) -> dict:
    """Resolve organizers the directory was never asked about (issue 11: a booking made
    today by a new organizer carries their department after the same sync)."""
    with roomcal.connect() as conn:
        addresses = new_organizers(conn, limit)
    return resolve_and_store(roomcal, addresses)


@asset(
    key=["raw", "organizer_directory"],
    deps=[AssetKey(["raw", "room_events"])],
    group_name="extraction",
    kinds={"postgres"},
    description="Department of each organizer seen in room events (Graph users endpoint, "
    "matched by UPN, then mail, then proxy address, refreshed weekly): not_found means external, "
    "forbidden means no directory permission.",
)
def organizer_directory(
    context: AssetExecutionContext, roomcal: RoomcalResource
) -> MaterializeResult:
    with roomcal.connect() as conn:
        addresses = addresses_to_look_up(conn)
    context.log.info(f"looking up {len(addresses)} organizers in the directory")

    metadata = resolve_and_store(roomcal, addresses, context.run_id)
    with roomcal.connect() as conn:
        cached = conn.execute("select count(*) from raw.organizer_directory").fetchone()[0]
    return MaterializeResult(metadata={**metadata, "cached_organizers": cached})
