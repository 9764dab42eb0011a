"""`roomcal demo` prints progress and its summary: no banner, no library warning, no
dagster-dbt bookkeeping; those go to the log file under the data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.cli.runner import DAGSTER_YAML, ensure_dagster_home

pytestmark = pytest.mark.integration

NOISE = (
    "dagster.yaml",  # "No dagster instance configuration file (dagster.yaml) found"
    "Telemetry",
    "Welcome to Dagster",
    "Warning",  # RuntimeDirWarning (platformdirs), GxDatasourceWarning, ...
    "AssetObservation",  # dagster-dbt on source tests run through indirect selection
    "Running dbt command",
    "partial_parse",
    " - dagster - ",  # Dagster's long line format
)


def test_demo_prints_under_30_lines_before_its_summary(server_warehouse_url, roomcal_env, capfd):
    roomcal_env.setenv("ROOMCAL_DATABASE_URL", server_warehouse_url)
    home = Path(os.environ["DAGSTER_HOME"])
    assert not (home / "dagster.yaml").exists()

    assert main(["demo", "--weeks", "1"]) == 0

    out, err = capfd.readouterr()
    lines = [line for line in (out + err).splitlines() if line.strip()]
    # The summary is on stdout; the run's progress (stderr) all comes before it: counting
    # every stderr line as "before" is an upper bound.
    out_lines = [line for line in out.splitlines() if line.strip()]
    summary = next(i for i, line in enumerate(out_lines) if line.startswith("Rooms synced: "))
    before = out_lines[:summary] + [line for line in err.splitlines() if line.strip()]
    assert len(before) < 30, "\n".join(before)
    assert not [line for line in lines if any(noise in line for noise in NOISE)]
    assert "Traceback" not in out + err
    # progress: the extraction's last count and a line at the start and end of each dbt build
    assert any(line.endswith("rooms done") for line in before), "\n".join(before)
    dbt_lines = [line for line in before if ": dbt build of " in line]
    assert sum(line.endswith(": started") for line in dbt_lines) == 2
    assert sum(" models built, " in line for line in dbt_lines) == 2
    # the instance the CLI created turns telemetry off
    assert (home / "dagster.yaml").read_text() == DAGSTER_YAML
    # what left the console is in the log file
    log = Path(os.environ["ROOMCAL_DATA_DIR"]) / "logs" / "roomcal.log"
    text = log.read_text(encoding="utf-8")
    assert "Running dbt command" in text and "rooms done" in text


def test_an_existing_dagster_yaml_is_never_overwritten(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert ensure_dagster_home(tmp_path / "data") == home
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"

    monkeypatch.delenv("DAGSTER_HOME")
    created = ensure_dagster_home(tmp_path / "data")
    assert created == (tmp_path / "data" / "dagster_home").resolve()
    assert (created / "dagster.yaml").read_text() == DAGSTER_YAML
