"""What the extraction asset and the delta sync op do around their rooms' async work."""

from collections.abc import Coroutine
from datetime import date
from typing import Any

from dagster import Failure

from roomcal_pipeline.defs.interrupts import run_interruptibly
from roomcal_pipeline.defs.resources import RoomcalResource, configuration_failure
from roomcal_pipeline.extraction.unit_of_work import WarehouseUnavailable
from roomcal_pipeline.graph.preflight import GraphPreflightError, systemic_failure
from roomcal_pipeline.warehouse.sync_results import RoomSyncResult, record_results


def run_rooms_and_record(
    roomcal: RoomcalResource,
    run_id: str,
    start: date,
    end: date,
    work: Coroutine[Any, Any, list[RoomSyncResult]],
) -> list[RoomSyncResult]:
    """Run the rooms (a terminate cancels them at once), record every room's result, and
    fail the step without a retry when every room failed for one systemic reason (a
    rejected credential, an unreachable Graph): that is not a successful run."""
    try:
        results = run_interruptibly(work)
    except WarehouseUnavailable as exc:
        raise Failure(str(exc)) from None
    except GraphPreflightError as exc:  # the run's Graph check failed in another step
        raise configuration_failure(str(exc)) from None
    with roomcal.connect() as conn:
        record_results(conn, run_id, start, end, results, roomcal.settings().sync_history_days)
    systemic = systemic_failure(results, roomcal.settings())
    if systemic:
        raise configuration_failure(systemic)
    return results
