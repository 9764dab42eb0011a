"""The code location loads the way `dagster dev -w workspace.yaml` loads it."""

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, TimeWindowPartitionsDefinition
from dagster._core.definitions.backfill_policy import BackfillPolicyType

from roomcal_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def test_workspace_loads_with_dagster_cli(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "roomcal_pipeline" in proc.stdout + proc.stderr


def test_extraction_assets_are_daily_partitioned_single_run_backfills():
    graph = defs.resolve_asset_graph()
    events = graph.get(AssetKey(["raw", "room_events"]))
    assert isinstance(events.partitions_def, TimeWindowPartitionsDefinition)
    assert events.partitions_def.cron_schedule == "0 0 * * *"
    assert events.backfill_policy.policy_type == BackfillPolicyType.SINGLE_RUN
    assert AssetKey(["raw", "rooms"]) in events.parent_keys
    assert graph.get(AssetKey(["raw", "rooms"])).partitions_def is None


def test_importing_definitions_reads_no_environment(monkeypatch):
    """No I/O at import: a broken environment must not stop the code location loading."""
    monkeypatch.setenv("ROOMCAL_TIMEZONE", "Not/AZone")
    monkeypatch.setenv("ROOMCAL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import roomcal_pipeline.definitions as d; print(len(list(d.defs.assets)))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
