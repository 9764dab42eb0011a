"""Run metadata shared by the extraction asset and the delta sync job: counts only, no
event attribute ever reaches Dagster."""

from collections import Counter
from datetime import date

from dagster import MetadataValue

from roomcal_pipeline.graph.client import RequestStats
from roomcal_pipeline.warehouse.sync_results import RoomSyncResult


def summarize(results: list[RoomSyncResult], start_date: date, end_date: date) -> dict:
    """Counts only: no event attribute ever reaches metadata."""
    totals = RequestStats()
    for r in results:
        totals.add(r.stats)
    reasons = Counter(r.reason for r in results if r.status != "synced")
    return {
        "window": f"{start_date} to {end_date} (end exclusive)",
        "rooms_synced": sum(1 for r in results if r.status == "synced"),
        "rooms_not_synced": sum(1 for r in results if r.status != "synced"),
        "not_synced_by_reason": MetadataValue.json(dict(sorted(reasons.items()))),
        "events_loaded": sum(r.events_loaded for r in results),
        "events_quarantined": sum(r.events_quarantined for r in results),
        "graph_requests": totals.requests,
        "graph_retries": totals.retries,
        "graph_throttled_responses": totals.throttled,
        "graph_throttle_wait_seconds": round(totals.throttle_wait_seconds, 3),
    }


def results_table(results: list[RoomSyncResult]) -> str:
    lines = ["| room | status | reason | events | requests |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r.room_email or r.room_name} | {r.status} | {r.reason or ''} | "
            f"{r.events_loaded} | {r.stats.requests} |"
        )
    return "\n".join(lines)
