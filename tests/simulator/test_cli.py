"""`python -m roomcal_pipeline.simulator` serves a tenant in its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_module_serves_tenant(tmp_path: Path):
    port = _free_port()
    registry = tmp_path / "rooms.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roomcal_pipeline.simulator",
            "--port",
            str(port),
            "--seed",
            "5",
            "--rooms-per-building",
            "2",
            "--page-size",
            "3",
            "--token",
            "cli-token",
            "--today",
            "2026-11-02",
            "--registry-out",
            str(registry),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = proc.stdout.readline()  # printed once the port is bound
        assert f"http://127.0.0.1:{port}/v1.0" in line
        base = f"http://127.0.0.1:{port}/v1.0"
        deadline = time.time() + 10
        url = (
            f"{base}/users/lon-room-001@contoso.example/calendarView"
            "?startDateTime=2026-10-05T00:00:00Z&endDateTime=2026-10-06T00:00:00Z"
        )
        while True:
            try:
                resp = httpx.get(url, headers={"Authorization": "Bearer cli-token"})
                break
            except httpx.ConnectError:
                assert time.time() < deadline
                time.sleep(0.1)
        assert resp.status_code == 200
        assert len(resp.json()["value"]) == 3 and "@odata.nextLink" in resp.json()
        assert registry.read_text().startswith("email,name,building")
    finally:
        proc.terminate()
        proc.wait(10)
