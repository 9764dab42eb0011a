"""The first hour on a real tenant: configuration mistakes end in seconds, with exit status 2
and one line naming the cause, from the CLI and inside Dagster runs (one failed step, no
retry); a run where every room fails for one systemic reason is not a success; `roomcal
simulate` never overwrites a file without --force and reports a busy port in one line."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from dagster import DagsterEventType, DagsterInstance

from roomcal_pipeline.cli.main import _finish, main
from roomcal_pipeline.cli.runner import run_assets
from roomcal_pipeline.config.settings import Settings
from roomcal_pipeline.graph.credentials import RefreshableCredential
from roomcal_pipeline.graph.preflight import (
    GraphPreflightError,
    check_graph,
    selection_problem,
    systemic_failure,
)
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.integration.pipeline import configure

REPO = Path(__file__).resolve().parents[2]
TODAY = date.today()
DAY = (TODAY - timedelta(days=3)).isoformat(), (TODAY - timedelta(days=2)).isoformat()
RUN = ["run", "--start", DAY[0], "--end", DAY[1]]
FAST = 15.0  # seconds: the bound for a configuration mistake to be reported
# Dagster's console log lines: "2026-01-05 10:00:00 +0000 - dagster - INFO - ..." by
# default, "10:00:00 room_events: ..." in the CLI's compact format
_DAGSTER_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[ ,.\d]*[+-]\d{4} - dagster - |\d{2}:\d{2}:\d{2} \S+: )"
)


def small_tenant() -> SimulatedTenant:
    return SimulatedTenant(seed=11, today=TODAY, rooms_per_building=1, history_days=10)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the socket is: nothing listens there


def own_lines(err: str) -> list[str]:
    """stderr lines that are not Dagster's own log lines."""
    return [line for line in err.splitlines() if line.strip() and not _DAGSTER_LINE.match(line)]


def one_line(capfd, started: float) -> str:
    """The single line a configuration mistake prints, after checking it came fast."""
    elapsed = time.monotonic() - started
    out, err = capfd.readouterr()
    lines = own_lines(err)
    assert len(lines) == 1, err
    assert elapsed < FAST, f"took {elapsed:.1f} s"
    assert "Traceback" not in out + err
    return lines[0]


# --- the three Graph mistakes, from the CLI -----------------------------------------------


@pytest.fixture
def tenant_env(roomcal_env, server_warehouse_url, tmp_path):
    """A small simulated tenant served over HTTP, the environment pointed at it."""
    tenant = small_tenant()
    with SimulatorServer(tenant) as server:
        rooms_file = configure(roomcal_env, server, tenant, server_warehouse_url, tmp_path)
        yield SimpleNamespace(
            env=roomcal_env,
            server=server,
            tenant=tenant,
            url=server_warehouse_url,
            rooms_file=rooms_file,
        )


def unreachable(t) -> tuple[str, str]:
    base = f"http://127.0.0.1:{closed_port()}/v1.0"
    t.env.setenv("ROOMCAL_GRAPH_BASE_URL", base)
    return base, (
        f"Microsoft Graph is unreachable at {base} (ROOMCAL_GRAPH_BASE_URL): connection refused"
    )


def rejected_token(t) -> tuple[str, str]:
    t.env.setenv("ROOMCAL_GRAPH_TOKEN", "not-the-sim-token")
    return t.server.base_url, (
        f"Graph at {t.server.base_url} rejected the token in ROOMCAL_GRAPH_TOKEN "
        "(HTTP 401 InvalidAuthenticationToken: IDX14100: JWT is not well formed.): "
        "set a valid, unexpired token in ROOMCAL_GRAPH_TOKEN"
    )


def missing_permission(t) -> tuple[str, str]:
    t.server.faults.forbid_all = True
    tried = ", ".join(r.email for r in t.tenant.rooms if r.email and r.in_registry)
    tried = ", ".join(tried.split(", ")[:3])
    return t.server.base_url, (
        f"Graph at {t.server.base_url} denied access to room calendars (HTTP 403 "
        f"ErrorAccessDenied: Access is denied. Check credentials and try again.; rooms tried: "
        f"{tried}): the token in ROOMCAL_GRAPH_TOKEN lacks the application permission "
        "Calendars.Read"
    )


MISTAKES = {
    "unreachable": unreachable,
    "rejected_token": rejected_token,
    "missing_permission": missing_permission,
}


@pytest.mark.parametrize("command", [RUN, ["sync"]], ids=["run", "sync"])
@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_graph_mistakes_end_in_seconds_with_one_line(tenant_env, mistake, command, capfd):
    base, expected = mistake(tenant_env)
    started = time.monotonic()
    assert main(command) == 2
    line = one_line(capfd, started)
    assert line == f"roomcal: {expected}"
    assert base in line and "sim-token" not in line
    if mistake is not unreachable:
        assert "AZURE_" not in line  # a fixed token: the hint is about that token
    with psycopg.connect(tenant_env.url) as conn:  # no run started
        assert conn.execute("select count(*) from raw.room_sync_results").fetchone()[0] == 0


# --- the same inside a Dagster run: one failed step, that line, no retry --------------------


def failed_steps(result) -> list:
    return [e for e in result.all_events if e.is_step_failure]


def assert_one_configuration_failure(result, expected: str, capfd) -> None:
    assert not result.success
    (failure,) = failed_steps(result)
    assert failure.step_key == "room_events"
    assert failure.event_specific_data.user_failure_data.description == expected
    kinds = {e.event_type for e in result.all_events}
    assert DagsterEventType.STEP_UP_FOR_RETRY not in kinds
    assert DagsterEventType.STEP_RESTARTED not in kinds
    with DagsterInstance.get() as instance:  # when the step started and failed
        step = {
            entry.dagster_event.event_type: entry.timestamp
            for entry in instance.all_logs(result.run_id)
            if entry.dagster_event is not None and entry.dagster_event.step_key == "room_events"
        }
    assert step[DagsterEventType.STEP_FAILURE] - step[DagsterEventType.STEP_START] < FAST
    capfd.readouterr()
    assert _finish(result) == 2  # the CLI reports that line, exit status 2
    assert own_lines(capfd.readouterr().err) == [f"roomcal: {expected}"]


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_graph_mistakes_inside_a_dagster_run_fail_one_step_without_retry(
    tenant_env, mistake, tmp_path, capfd
):
    _, expected = mistake(tenant_env)
    started = time.monotonic()
    result = run_assets(
        date.fromisoformat(DAY[0]), date.fromisoformat(DAY[1]), tmp_path / "data", None
    )
    assert_one_configuration_failure(result, expected, capfd)
    # a run that met a tenant-wide mistake ends in seconds, whatever the step order
    # (room discovery meets the same check and does not retry for minutes)
    assert time.monotonic() - started < 60


def test_unknown_room_selection_inside_a_dagster_run(tenant_env, tmp_path, capfd):
    result = run_assets(
        date.fromisoformat(DAY[0]),
        date.fromisoformat(DAY[1]),
        tmp_path / "data",
        ["nobody@contoso.example"],
    )
    assert_one_configuration_failure(
        result,
        "the room selection (config rooms) names 1 room(s) not in the room registry "
        "(ROOMCAL_ROOMS_FILE): nobody@contoso.example",
        capfd,
    )


def test_every_room_failing_on_the_credential_fails_the_run(tenant_env, monkeypatch, capfd):
    """Past the preflight (switched off here), a token Graph rejects for every room is not
    a successful run: one line, exit 2, and the rooms' results are still recorded."""

    async def no_preflight(self, credential, emails=None):
        return None

    monkeypatch.setattr("roomcal_pipeline.graph.preflight.preflight_graph", lambda *a, **k: None)
    monkeypatch.setattr("roomcal_pipeline.defs.resources.RoomcalResource._preflight", no_preflight)
    tenant_env.server.revoke_tokens(also_new=True)  # the sim-token now answers 401
    assert main(RUN) == 2
    lines = own_lines(capfd.readouterr().err)
    expected = (
        f"roomcal: Graph at {tenant_env.server.base_url} rejected the token in "
        "ROOMCAL_GRAPH_TOKEN for every room tried ("
    )
    assert [line for line in lines if line.startswith("roomcal:")] == [
        next(line for line in lines if line.startswith(expected))
    ]
    assert lines[-1].startswith(expected) and lines[-1].endswith(
        "set a valid, unexpired token in ROOMCAL_GRAPH_TOKEN"
    )
    with psycopg.connect(tenant_env.url) as conn:
        reasons = conn.execute(
            "select reason, count(*) from raw.room_sync_results"
            " where room_email is not null group by reason"
        ).fetchall()
    assert [r[0] for r in reasons] == ["auth_failed"]


# --- bad input a user can type: one line, exit 2, before any run ----------------------------


def test_registry_without_header_row(tenant_env, capfd):
    rooms_file = tenant_env.rooms_file
    body = rooms_file.read_text().splitlines()[1:]
    rooms_file.write_text("\n".join(body) + "\n")
    for command in (RUN, ["sync"]):
        started = time.monotonic()
        assert main(command) == 2
        line = one_line(capfd, started)
        assert line.startswith(f"roomcal: ROOMCAL_ROOMS_FILE {rooms_file} has no header row: ")
        assert "email,name,building,floor,capacity,timezone" in line
        assert body[0][:40] in line  # shows what the first line is


def test_unknown_rooms_email(tenant_env, capfd):
    known = next(r.email for r in tenant_env.tenant.rooms if r.email and r.in_registry)
    for command in (RUN, ["sync"]):
        started = time.monotonic()
        assert main([*command, "--rooms", f"{known},Nobody@Contoso.example"]) == 2
        line = one_line(capfd, started)
        assert line == (
            "roomcal: --rooms names 1 room(s) not in the room registry (ROOMCAL_ROOMS_FILE): "
            "Nobody@Contoso.example"
        )
    with psycopg.connect(tenant_env.url) as conn:
        assert conn.execute("select count(*) from raw.room_sync_results").fetchone()[0] == 0


# --- the preflight's verdicts, one by one ----------------------------------------------------


def test_one_rooms_403_is_that_rooms_problem(tenant_env):
    """A room an application access policy leaves out, or a single room answering 403, is
    not a tenant-wide denial: the preflight goes on to the next room, or lets the run go
    on. Two rooms answering a plain 403 are."""
    from roomcal_pipeline.graph.credentials import StaticTokenCredential

    settings = Settings.from_env()
    credential = StaticTokenCredential("sim-token")
    blocked = next(r.email for r in tenant_env.tenant.rooms if r.failure == "access_denied")
    healthy = [r.email for r in tenant_env.tenant.rooms if r.email and not r.failure]
    asyncio.run(check_graph(settings, [blocked, *healthy], credential))
    asyncio.run(check_graph(settings, [blocked], credential))
    mailbox = tenant_env.server.stats.requests_per_mailbox
    assert mailbox[blocked] == 2 and mailbox[healthy[0]] == 1  # one request per room tried
    assert mailbox[healthy[1]] == 0  # stopped at the first room that answered
    tenant_env.server.faults.forbid_all = True
    asyncio.run(check_graph(settings, healthy[:1], credential))  # one room: its problem
    with pytest.raises(GraphPreflightError, match="denied access to room calendars"):
        asyncio.run(check_graph(settings, healthy[:2], credential))


def test_azure_identity_credential_rejected_names_the_azure_settings(tenant_env):
    """With azure-identity (a stand-in against the simulator's token endpoint) a token that
    Graph keeps rejecting after one new one names AZURE_*, not ROOMCAL_GRAPH_TOKEN."""
    from tests.sync.test_token_expiry import ClientCredentialsOverHttp

    env = {
        "ROOMCAL_GRAPH_BASE_URL": tenant_env.server.base_url,
        "AZURE_TENANT_ID": "simtenant",
        "AZURE_CLIENT_ID": "app",
        "AZURE_CLIENT_SECRET": "s3cret-value",
    }
    settings = Settings.from_env(env)
    tenant_env.server.revoke_tokens(also_new=True)
    inner = ClientCredentialsOverHttp(tenant_env.server.token_url)
    emails = [r.email for r in tenant_env.tenant.rooms if r.email and not r.failure]
    with pytest.raises(GraphPreflightError) as caught:
        asyncio.run(check_graph(settings, emails, RefreshableCredential(inner)))
    line = str(caught.value)
    assert line == (
        f"Graph at {tenant_env.server.base_url} rejected the app's token (HTTP 401 "
        "InvalidAuthenticationToken: Access token validation failure: the token has been "
        "revoked.): check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (the app "
        "registration and its tenant)"
    )
    assert inner.fetched == 2  # one new token after the first 401, like the extraction
    assert "s3cret" not in line and "sim-" not in line


def test_token_request_refused_quotes_the_aadsts_code():
    from azure.core.exceptions import ClientAuthenticationError

    class Refused:
        async def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError(
                "ClientSecretCredential authentication failed: AADSTS7000215: Invalid client "
                "secret provided. Ensure the secret being sent in the request is the client "
                "secret value, not the client secret ID.\nTrace ID: 1234"
            )

    settings = Settings.from_env(
        {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "wrong"}
    )
    with pytest.raises(GraphPreflightError) as caught:
        asyncio.run(check_graph(settings, ["room@contoso.example"], Refused()))
    assert str(caught.value) == (
        "cannot get a token for Graph at https://graph.microsoft.com/v1.0: AADSTS7000215: "
        "Invalid client secret provided: check AZURE_TENANT_ID, AZURE_CLIENT_ID and "
        "AZURE_CLIENT_SECRET (the app registration and its tenant)"
    )


def test_not_graph_and_bad_url_are_named(tenant_env):
    from roomcal_pipeline.graph.credentials import StaticTokenCredential

    emails = [r.email for r in tenant_env.tenant.rooms if r.email and not r.failure]
    root = tenant_env.server.base_url.removesuffix("/v1.0")
    cases = {
        root: f"{root} (ROOMCAL_GRAPH_BASE_URL) does not answer like Microsoft Graph (HTTP "
        "404, a text/plain body, not a Graph error): set it to the Graph root, like "
        "https://graph.microsoft.com/v1.0",
        "graph.microsoft.com/v1.0": "ROOMCAL_GRAPH_BASE_URL 'graph.microsoft.com/v1.0' is "
        "not an http(s) URL: set it to the Graph root, like https://graph.microsoft.com/v1.0",
    }
    for base, expected in cases.items():
        settings = Settings.from_env({"ROOMCAL_GRAPH_BASE_URL": base, "ROOMCAL_GRAPH_TOKEN": "t"})
        with pytest.raises(GraphPreflightError) as caught:
            asyncio.run(check_graph(settings, emails, StaticTokenCredential("sim-token")))
        assert str(caught.value) == expected


def test_selection_and_systemic_verdicts():
    rooms = [
        SimpleNamespace(key="a@x.org", email="a@x.org"),
        SimpleNamespace(key="noemail:b", email=None),
    ]
    assert selection_problem(None, rooms, "--rooms") is None
    assert selection_problem(["A@X.org", "noemail:b"], rooms, "--rooms") is None
    assert "lists no room" in selection_problem(None, [], "--rooms")
    assert selection_problem(["c@x.org"], [], "--rooms").endswith(": c@x.org")

    settings = Settings.from_env({"ROOMCAL_GRAPH_TOKEN": "t"})

    def result(status, reason=None, detail=None, email="a@x.org"):
        return SimpleNamespace(status=status, reason=reason, detail=detail, room_email=email)

    transport = result("not_synced", "error", "ConnectError: transport failure or truncated body")
    auth = result("not_synced", "auth_failed", "HTTP 401 InvalidAuthenticationToken: expired")
    no_email = result("not_synced", "no_email", "no email", email=None)
    assert systemic_failure([transport, transport, no_email], settings).startswith(
        "Microsoft Graph was unreachable at https://graph.microsoft.com/v1.0"
    )
    assert "ROOMCAL_GRAPH_TOKEN" in systemic_failure([auth, auth], settings)
    assert systemic_failure([auth, result("synced")], settings) is None  # one room synced
    assert systemic_failure([auth, transport], settings) is None  # no single cause
    assert systemic_failure([result("not_synced", "access_denied", "403")], settings) is None
    assert systemic_failure([no_email], settings) is None  # nothing could be tried


# --- roomcal simulate ------------------------------------------------------------------------


def test_simulate_never_overwrites_an_existing_rooms_file(tmp_path, capfd):
    from roomcal_pipeline.simulator.__main__ import write_registry

    mine = tmp_path / "rooms.csv"
    mine.write_text("email,name,building,floor,capacity,timezone\nmy@own.org,Mine,HQ,1,4,UTC\n")
    before = mine.read_text()
    assert main(["simulate", "--port", str(closed_port()), "--rooms-file", str(mine)]) == 2
    line = one_line(capfd, time.monotonic())
    assert line == (
        f"roomcal: --rooms-file {mine} already exists: pass --force to overwrite it, "
        "or name another file"
    )
    assert mine.read_text() == before
    text = SimulatedTenant(seed=42).registry_csv()
    assert write_registry(mine, text, force=True, option="--rooms-file")  # --force overwrites
    assert mine.read_text() == text
    assert not write_registry(mine, text, force=False, option="--rooms-file")  # same: kept


def test_simulate_reports_a_busy_port_in_one_line(tmp_path, capfd):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rooms = tmp_path / "rooms.csv"
        assert main(["simulate", "--port", str(port), "--rooms-file", str(rooms)]) == 2
        line = one_line(capfd, time.monotonic())
        assert line == (
            f"roomcal: cannot serve on 127.0.0.1:{port}: the port is already in use "
            "(another simulator?); choose another --port"
        )
        assert not rooms.exists()  # nothing written before the port was known to be free
        proc = subprocess.run(
            [sys.executable, "-m", "roomcal_pipeline.simulator", "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"python -m roomcal_pipeline.simulator: cannot serve on 127.0.0.1:{port}: the port is "
        "already in use (another simulator?); choose another --port"
    ]
