"""The room registry asset: the CSV, validated, mirrored into raw.rooms."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.warehouse.rooms import refresh_registry


@asset(
    key=["raw", "rooms"],
    group_name="extraction",
    kinds={"csv", "postgres"},
    description="The room registry (ROOMCAL_ROOMS_FILE): one row per registered room. "
    "Malformed rows are reported with their line number; the others load.",
)
def room_registry(context: AssetExecutionContext, roomcal: RoomcalResource) -> MaterializeResult:
    with roomcal.connect() as conn:
        rooms, issues = refresh_registry(conn, roomcal.settings())
    for issue in issues:
        context.log.warning(f"room registry {issue}")
    return MaterializeResult(
        metadata={
            "rooms": len(rooms),
            "rooms_without_email": sum(1 for r in rooms if not r.email),
            "invalid_rows": len(issues),
            "invalid_row_details": MetadataValue.md(
                "\n".join(f"- {issue}" for issue in issues) or "none"
            ),
            "time_zones": MetadataValue.json(sorted({r.timezone for r in rooms})),
        }
    )
