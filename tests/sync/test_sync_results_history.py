"""Bounded bookkeeping (issue 12): raw.room_sync_results keeps what users and the marts
need, and nothing grows with the number of syncs.

Random sequences of runs (rooms, windows, statuses, ages) are recorded with
`record_results`, and the table is compared after each with a plain-Python model of the
written rule: a run prunes its own rooms' history, keeping every result of the last
`keep_days` days and, per room, window and status, the latest result.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roomcal_pipeline.warehouse.schema import migrate
from roomcal_pipeline.warehouse.sync_results import RoomSyncResult, record_results

KEEP_DAYS = 7
WINDOWS = [(date(2026, 11, 1), date(2026, 11, 2)), (date(2026, 11, 2), date(2026, 11, 3))]
ROOMS = ["a", "b", "c"]

RESULT = st.tuples(
    st.sampled_from(ROOMS),
    st.sampled_from(range(len(WINDOWS))),
    st.sampled_from(["synced", "not_synced"]),
    st.integers(min_value=0, max_value=20),  # age in days when it finished
)
RUNS = st.lists(st.lists(RESULT, min_size=1, max_size=3, unique_by=lambda r: r[0]), max_size=8)


def model_after(kept: list[dict], run: list[dict], now: datetime) -> list[dict]:
    rows = kept + run
    rooms = {r["room"] for r in run}
    out = []
    for row in rows:
        old = row["finished"] < now - timedelta(days=KEEP_DAYS)
        newer = any(
            o["room"] == row["room"]
            and o["window"] == row["window"]
            and o["status"] == row["status"]
            and (o["finished"], o["run"]) > (row["finished"], row["run"])
            for o in rows
        )
        if not (row["room"] in rooms and old and newer):
            out.append(row)
    return out


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(runs=RUNS)
def test_history_keeps_recent_results_and_the_latest_of_each_window(server_warehouse_url, runs):
    with psycopg.connect(server_warehouse_url) as conn:
        migrate(conn)
        conn.execute("truncate raw.room_sync_results")
        conn.commit()
        now = conn.execute("select now()").fetchone()[0]
        counter = itertools.count()
        model: list[dict] = []
        for results in runs:
            run_id = f"run-{next(counter):03d}"
            rows = [
                {
                    "run": run_id,
                    "room": room,
                    "window": WINDOWS[w],
                    "status": status,
                    "finished": now - timedelta(days=age, seconds=next(counter)),
                }
                for room, w, status, age in results
            ]
            record_results(
                conn,
                run_id,
                date(2026, 1, 1),
                date(2026, 1, 2),
                [
                    RoomSyncResult(
                        r["room"],
                        f"{r['room']}@x",
                        r["room"],
                        r["status"],
                        window=r["window"],
                        started_at=r["finished"],
                        finished_at=r["finished"],
                    )
                    for r in rows
                ],
                keep_days=KEEP_DAYS,
            )
            conn.commit()
            model = model_after(model, rows, now)
            stored = conn.execute(
                "select run_id, room_key, window_start_date, window_end_date, status"
                " from raw.room_sync_results"
            ).fetchall()
            expected = [(r["run"], r["room"], *r["window"], r["status"]) for r in model]
            assert sorted(stored) == sorted(expected)


def test_a_sync_every_10_minutes_for_ten_days_keeps_a_week(server_warehouse_url):
    """The 10-minute cadence for 10 days on one room and one window: what stays is a week of
    results plus the latest of each status, not 10 x 144 rows."""
    with psycopg.connect(server_warehouse_url) as conn:
        migrate(conn)
        now = conn.execute("select now()").fetchone()[0].astimezone(UTC)
        for n in range(10 * 144):
            finished = now - timedelta(minutes=10 * (10 * 144 - n))
            status = "not_synced" if n == 100 else "synced"
            result = RoomSyncResult(
                "a", "a@x", "a", status, started_at=finished, finished_at=finished
            )
            record_results(conn, f"r{n:05d}", *WINDOWS[0], [result], keep_days=KEEP_DAYS)
        conn.commit()
        count, oldest_synced, failures = conn.execute(
            "select count(*), min(finished_at) filter (where status = 'synced'),"
            " count(*) filter (where status = 'not_synced') from raw.room_sync_results"
        ).fetchone()
    assert count <= 7 * 144 + 2
    assert oldest_synced >= now - timedelta(days=KEEP_DAYS, minutes=10)
    assert failures == 1  # the nine-day-old failure is the latest of its kind: kept
