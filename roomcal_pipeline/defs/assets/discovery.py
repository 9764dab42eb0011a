"""Room discovery asset: rooms in the tenant but not in the registry, and the reverse."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from roomcal_pipeline.defs.interrupts import run_interruptibly
from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.graph.errors import GraphRequestError
from roomcal_pipeline.warehouse.discovery import discovery_report, replace_tenant_rooms


@asset(
    key=["raw", "tenant_rooms"],
    deps=[AssetKey(["raw", "rooms"])],
    group_name="extraction",
    kinds={"postgres"},
    description="The tenant's rooms from the places API (Place.Read.All), compared with the "
    "registry. Without the permission it reports discovery as unavailable and keeps the "
    "last list; it never fails the run.",
)
def tenant_rooms(context: AssetExecutionContext, roomcal: RoomcalResource) -> MaterializeResult:
    async def run() -> list[dict]:
        async with roomcal.graph_client() as client:
            return [room async for room in client.list_rooms()]

    try:
        rooms = run_interruptibly(run())
    except GraphRequestError as exc:
        context.log.warning(f"room discovery unavailable: {exc.reason}: {exc.detail}")
        return MaterializeResult(metadata={"discovery": f"unavailable: {exc.reason}"})
    with roomcal.connect() as conn:
        replace_tenant_rooms(conn, rooms)
        report = discovery_report(conn)
    missing = report.missing_from_registry if report else []
    unknown = report.not_rooms_in_tenant if report else []
    for email in missing:
        context.log.info(f"room {email} is in the tenant but not in the registry")
    for email in unknown:
        context.log.warning(f"registered room {email} is not a room of the tenant")
    return MaterializeResult(
        metadata={
            "discovery": "ok",
            "tenant_rooms": len(rooms),
            "missing_from_registry": MetadataValue.json(missing),
            "registered_but_not_in_tenant": MetadataValue.json(unknown),
        }
    )
