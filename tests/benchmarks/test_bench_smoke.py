"""The benchmark at a tiny size, so that it cannot rot (the real figures: benchmarks/README.md).

It runs `python -m benchmarks.bench` as a user would, and checks that the printed table
is consistent: roomcal loaded exactly the events the simulator serves for the window,
and CPU per event is a positive number. dlt is only in the `bench` extra, so its column
is measured when it is installed and skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import _server_admin_url

REPO = Path(__file__).resolve().parents[2]


def _rows(output: str) -> dict[str, list[str]]:
    """Table rows by tool: size, tool, events, requests, req/room, wall, bound, CPU, µs, RSS."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[1] in ("roomcal", "dlt", "roomcal/dlt"):
            rows[cells[1]] = cells
    return rows


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_bench_smoke():
    admin = _server_admin_url()
    tools = ["roomcal"]
    if importlib.util.find_spec("dlt") is not None:
        tools.append("dlt")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench",
            "--sizes",
            "4x7",
            "--bookings-per-day",
            "5",
            "--page-size",
            "10",
            "--check",
            "--admin-url",
            admin,
            "--tools",
            *tools,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    rows = _rows(out)
    assert "roomcal" in rows, out
    served = re.search(r"the simulator serves ([\d,]+) for the window: OK", out)
    assert served, out  # --check: loaded == rows in raw.room_events == ground truth
    roomcal = rows["roomcal"]
    events, requests = _number(roomcal[2]), _number(roomcal[3])
    assert events > 0 and events == _number(served.group(1))
    assert requests >= 4  # at least one page per room, several at 10 events per page
    assert _number(roomcal[7]) > 0  # CPU seconds
    assert _number(roomcal[8]) > 0  # CPU µs per event
    assert _number(roomcal[9]) > 0  # peak RSS MB
    assert "idle delta sync" in out
    if "dlt" in tools:
        dlt = rows["dlt"]
        assert _number(dlt[2]) > 0 and _number(dlt[8]) > 0
        assert "roomcal/dlt" in rows
