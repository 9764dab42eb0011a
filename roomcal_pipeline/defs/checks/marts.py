"""Great Expectations checks on the marts that BI tools read."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, asset_check

from roomcal_pipeline.defs.resources import RoomcalResource
from roomcal_pipeline.quality.gx_runner import validate_query
from roomcal_pipeline.quality.suites import booking_rate_expectations, sync_status_expectations


@asset_check(
    asset=AssetKey(["marts", "room_booking_rate_daily"]),
    description="Great Expectations: booking rate within 0 and 1, booked minutes never above "
    "business minutes, one row per room and business day.",
)
def booking_rates_valid(roomcal: RoomcalResource) -> AssetCheckResult:
    outcome = validate_query(
        roomcal.warehouse_url(),
        "booking_rate_daily",
        "select * from marts.room_booking_rate_daily",
        booking_rate_expectations(),
        ["room_email", "booking_date"],
    )
    return AssetCheckResult(
        passed=outcome.success, severity=AssetCheckSeverity.ERROR, metadata=outcome.metadata()
    )


@asset_check(
    asset=AssetKey(["marts", "room_sync_status"]),
    description="Great Expectations: every registered room appears once, with a valid status.",
)
def every_registered_room_present(roomcal: RoomcalResource) -> AssetCheckResult:
    url = roomcal.warehouse_url()
    with roomcal.connect() as conn:
        registered = conn.execute("select count(*) from raw.rooms").fetchone()[0]
    outcome = validate_query(
        url,
        "room_sync_status",
        "select * from marts.room_sync_status",
        sync_status_expectations(registered),
        ["room_key"],
    )
    return AssetCheckResult(
        passed=outcome.success, severity=AssetCheckSeverity.ERROR, metadata=outcome.metadata()
    )
