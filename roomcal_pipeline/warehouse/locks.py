"""Warehouse-wide locks that keep two processes from doing the same work at once.

PostgreSQL session advisory locks, each held by a connection of its own in autocommit
(no transaction stays open while the work runs); the lock goes when that connection
closes, so a killed process never leaves it behind.

- `sync`: one delta sync at a time, whoever starts it (the schedule, `roomcal sync`, the
  UI). A sync that finds it taken does nothing: the running one reads every room anyway.
- `marts`: one dbt build of the marts at a time. Incremental models delete a window and
  insert it again; two builds of the same dates at once could both insert. A build waits
  for the one before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SYNC = "roomcal.sync"
MARTS = "roomcal.marts"


@contextmanager
def advisory_lock(database_url: str, name: str, *, wait: bool) -> Iterator[bool]:
    """Hold the lock `name` for the block: True when held; False when `wait` is False and
    another session holds it (the block then runs without it, to report and leave)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        if wait:
            conn.execute("select pg_advisory_lock(hashtext(%s))", (name,))
            held = True
        else:
            held = conn.execute("select pg_try_advisory_lock(hashtext(%s))", (name,)).fetchone()[0]
        try:
            yield held
        finally:
            if held and not conn.closed:
                conn.execute("select pg_advisory_unlock(hashtext(%s))", (name,))
