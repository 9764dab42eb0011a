"""dbt's unit tests of the metric logic (overlap merge, clipping, DST days, the ad hoc
threshold, popularity ties, spanning bookings), run here in CI: production builds leave
them out (`--exclude-resource-type unit_test`, defs/assets/marts.py).

dbt needs the models' parents to exist to know their columns, so the models are first
created over the empty raw tables of a fresh database."""

from __future__ import annotations

import os
import re
import subprocess

from roomcal_pipeline.transform.project import DBT_EXECUTABLE, DBT_PROJECT_DIR
from roomcal_pipeline.warehouse.database import dbt_connection_env
from roomcal_pipeline.warehouse.schema import migrate


def dbt(args: list[str], url: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            DBT_EXECUTABLE,
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env={**os.environ, **dbt_connection_env(url)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_dbt_unit_test_passes(server_warehouse_url, tmp_path):
    import psycopg

    with psycopg.connect(server_warehouse_url) as conn:
        migrate(conn)
    empty = dbt(["run"], server_warehouse_url, tmp_path)  # every model, over empty raw tables
    assert empty.returncode == 0, empty.stdout[-3000:]
    unit = dbt(["test", "--select", "test_type:unit"], server_warehouse_url, tmp_path)
    assert unit.returncode == 0, unit.stdout[-3000:]
    done = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)", unit.stdout)
    assert done is not None, unit.stdout[-2000:]
    passed, _, errors = map(int, done.groups())
    assert errors == 0 and passed >= 8  # the project's unit tests, all of them run
