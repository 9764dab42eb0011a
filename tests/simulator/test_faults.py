"""Fault injection and instrumentation: 429s, concurrency, 5xx, gateway pages, truncation,
resets, latency, revoked tokens."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

import httpx
import orjson
import pytest

from roomcal_pipeline.simulator import SimulatorServer

from .conftest import ROOM, view_url


def _polite_get(client: httpx.Client, url: str) -> httpx.Response:
    """Retry 429s after waiting Retry-After (seconds or HTTP-date)."""
    for _ in range(10):
        resp = client.get(url)
        if resp.status_code != 429:
            return resp
        value = resp.headers.get("Retry-After")
        if value is None:
            delay = 0.05
        elif value.replace(".", "", 1).isdigit():
            delay = float(value)
        else:
            delay = parsedate_to_datetime(value).timestamp() - time.time()
        time.sleep(max(0.0, delay) + 0.01)
    raise AssertionError("still throttled")


def test_throttling_logs_every_429_and_the_retry(sim, graph):
    sim.faults.throttle_every_n = 2
    sim.faults.retry_after = "mixed"
    sim.faults.retry_after_seconds = 0.4
    sim.faults.throttle_code = "mixed"
    for i in range(8):
        assert _polite_get(graph, view_url(sim, extra=f"&$top={i + 1}")).status_code == 200
    log = sim.stats.throttle_log
    assert len(log) >= 4 and all(r.next_arrival is not None for r in log)
    assert {r.code for r in log} == {"TooManyRequests", "ApplicationThrottled"}
    assert {r.retry_after is None for r in log} == {True, False}  # header missing and present
    assert sim.stats.retry_after_violations() == []
    # An impatient client is caught.
    sim.faults.retry_after = "int"
    sim.reset_stats()
    url = view_url(sim, extra="&$top=99")
    while graph.get(url).status_code != 429:
        pass
    graph.get(url)
    bad = sim.stats.retry_after_violations()
    assert len(bad) == 1 and bad[0].retry_after == 1.0 and bad[0].mailbox == ROOM


def test_seeded_throttle_probability_is_deterministic(sim, graph):
    sim.faults.throttle_probability = 0.5
    sim.faults.seed = 9
    first = [graph.get(view_url(sim, extra=f"&$top={n}")).status_code for n in range(1, 13)]
    sim.reset_stats()
    second = [graph.get(view_url(sim, extra=f"&$top={n}")).status_code for n in range(1, 13)]
    assert first == second and 429 in first and 200 in first


def test_concurrency_limit_per_mailbox(sim):
    sim.faults.latency_ms = 300

    def fetch(n: int) -> int:
        with httpx.Client(headers={"Authorization": "Bearer sim-token"}) as c:
            return c.get(view_url(sim, extra=f"&$top={n + 1}")).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(fetch, range(4))) == [200] * 4
    assert sim.stats.concurrency_violations == []
    with ThreadPoolExecutor(7) as pool:
        statuses = list(pool.map(fetch, range(7)))
    assert statuses.count(429) >= 1
    assert sim.stats.max_concurrent_per_mailbox[ROOM] >= 5
    violations = sim.stats.concurrency_violations
    assert violations and all(v["mailbox"] == ROOM for v in violations)
    assert any(r.code == "ApplicationThrottled" for r in sim.stats.throttle_log)
    assert sim.stats.requests_per_mailbox[ROOM] == 11


def test_server_errors(sim, graph):
    sim.faults.server_error_probability = 1.0
    sim.faults.server_error_statuses = (503,)
    resp = graph.get(view_url(sim))
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "ServiceUnavailable"


def test_truncated_body_is_cut_mid_json(sim, graph):
    sim.faults.truncate_probability = 1.0
    resp = graph.get(view_url(sim))
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.content.startswith(b'{"@odata.context"')
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)
    assert sim.stats.faults_injected["truncate"] == 1


def test_connection_reset_mid_response(sim, graph):
    sim.faults.reset_probability = 1.0
    with pytest.raises(httpx.TransportError):
        graph.get(view_url(sim))
    sim.faults.reset_probability = 0.0
    assert graph.get(view_url(sim)).status_code == 200


def test_faults_can_be_limited_to_paths_and_latency(sim, graph):
    sim.faults.server_error_probability = 1.0
    sim.faults.path_contains = "/places/"
    assert graph.get(view_url(sim)).status_code == 200
    assert graph.get(f"{sim.base_url}/places/microsoft.graph.room").status_code >= 500
    sim.faults.server_error_probability = 0.0
    sim.faults.latency_ms = 150
    t0 = time.perf_counter()
    graph.get(view_url(sim))
    assert time.perf_counter() - t0 >= 0.15


def test_gateway_errors_answer_in_the_gateways_own_format(sim, graph):
    sim.faults.gateway_error_probability = 1.0
    sim.faults.gateway_statuses = (502,)
    resp = graph.get(view_url(sim))
    assert resp.status_code == 502 and resp.headers["Content-Type"] == "text/html"
    assert resp.content.startswith(b"<html>") and b"<h1>502 Bad Gateway</h1>" in resp.content
    sim.faults.gateway_statuses = (503,)
    sim.faults.gateway_body = "empty"
    resp = graph.get(view_url(sim))
    assert resp.status_code == 503 and resp.content == b""
    assert "Content-Type" not in resp.headers
    sim.faults.gateway_statuses = (504,)
    sim.faults.gateway_body = "text"
    resp = graph.get(view_url(sim))
    assert resp.status_code == 504 and resp.text == "Gateway Timeout"
    assert resp.headers["Content-Type"].startswith("text/plain")
    sim.faults.gateway_body = "mixed"
    kinds = [graph.get(view_url(sim)).headers.get("Content-Type") for _ in range(3)]
    assert kinds == ["text/html", None, "text/plain; charset=utf-8"]  # html, empty, text
    injected = sim.stats.faults_injected
    assert (injected["gateway"], injected["502"], injected["503"], injected["504"]) == (6, 1, 1, 4)


def test_revoked_tokens_answer_401_and_the_token_endpoint_counts_requests(sim_tenant):
    with SimulatorServer(sim_tenant, token=None) as server, httpx.Client(timeout=10) as http:

        def new_token(**extra) -> str:
            form = {"grant_type": "client_credentials", "client_id": "app", **extra}
            return http.post(server.token_url, data=form).json()["access_token"]

        def status(token: str) -> httpx.Response:
            return http.get(view_url(server), headers={"Authorization": f"Bearer {token}"})

        first = new_token()
        assert status(first).status_code == 200
        server.revoke_tokens()
        resp = status(first)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"
        second = new_token(claims='{"access_token":{}}')
        assert status(second).status_code == 200  # a new token is accepted
        server.revoke_tokens(also_new=True)
        assert status(new_token()).status_code == 401  # ... until new ones are revoked too
        assert server.stats.token_requests == 3
        assert server.stats.token_claims == [None, '{"access_token":{}}', None]
