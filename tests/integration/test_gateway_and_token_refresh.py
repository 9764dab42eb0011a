"""Gateway errors in any body and revoked tokens, on the real client path against the simulator.

Gateways in front of Graph answer 502/503/504 (and 500) with HTML, plain text or nothing:
those are retried whatever the body, other 4xx never. A 401 for a token azure-identity
still holds in its cache gets exactly one new token, with the real
`azure.identity.aio.ClientSecretCredential` talking to the simulator's token endpoint over
HTTPS (azure-identity refuses an http authority).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError

from roomcal_pipeline.config.settings import Settings
from roomcal_pipeline.graph.client import GraphClient, RetryPolicy
from roomcal_pipeline.graph.credentials import (
    RefreshableCredential,
    StaticTokenCredential,
    credential_from_settings,
)
from roomcal_pipeline.graph.errors import AUTH_FAILED, ERROR, GraphRequestError
from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 11, 2)
WINDOW = (
    dt.datetime(2026, 10, 12, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 26, tzinfo=dt.UTC),
)
FAST = RetryPolicy(max_attempts=8, backoff_base_seconds=0.001, backoff_max_seconds=0.01)


@pytest.fixture(scope="module")
def tenant() -> SimulatedTenant:
    return SimulatedTenant(seed=17, today=TODAY, history_days=30, future_days=5)


@pytest.fixture(scope="module")
def rooms(tenant) -> list[str]:
    healthy = [r.email for r in tenant.rooms if r.email and not r.failure]
    assert len(healthy) >= 3
    return healthy[:3]


def read(server, credential, rooms, *, retry=FAST, page_size=7):
    """Every allowlisted event of `rooms` in WINDOW, by room, and the client's stats."""

    async def one(client, room):
        events = []
        async for page in client.calendar_view(room, *WINDOW):
            events += page
        return room, sorted(events, key=lambda e: e["id"])

    async def run():
        async with GraphClient(
            server.base_url, credential, page_size=page_size, retry=retry
        ) as client:
            found = [await one(client, room) for room in rooms]
            return dict(found), client.stats

    return asyncio.run(run())


@pytest.fixture(scope="module")
def clean(tenant, rooms):
    """What a fault-free read returns."""
    with SimulatorServer(tenant) as server:
        events, _ = read(server, StaticTokenCredential("sim-token"), rooms)
    assert all(events[room] for room in rooms)
    return events


# ----------------------------------------------------------------- gateway errors
@pytest.mark.parametrize("body", ["html", "empty", "text", "mixed"])
def test_gateway_errors_in_any_body_are_retried_to_the_same_events(tenant, rooms, clean, body):
    faults = FaultConfig(
        seed=3,
        gateway_error_probability=0.4,
        gateway_statuses=(500, 502, 503, 504),
        gateway_body=body,
        path_contains="calendarView",
    )
    with SimulatorServer(tenant, faults) as server:
        events, stats = read(server, StaticTokenCredential("sim-token"), rooms)
        injected = server.stats.faults_injected
    assert events == clean
    styles = ("html", "empty", "text") if body == "mixed" else (body,)
    assert all(injected[f"gateway-{style}"] for style in styles), injected
    assert all(injected[str(status)] for status in (500, 502, 503, 504)), injected
    # every gateway answer was retried, and nothing else was
    assert sum(s.retries for s in stats.values()) == injected["gateway"]


@pytest.mark.parametrize("status", [400, 404])
def test_a_client_error_with_an_html_body_is_not_retried(tenant, rooms, status):
    faults = FaultConfig(
        gateway_error_probability=1.0, gateway_statuses=(status,), gateway_body="html"
    )
    room = rooms[0]
    with SimulatorServer(tenant, faults) as server:
        with pytest.raises(GraphRequestError) as caught:
            read(server, StaticTokenCredential("sim-token"), [room])
        assert server.stats.total_requests == 1
    error = caught.value
    assert (error.status, error.retries) == (status, 0)
    assert error.code == f"http_{status}"
    # only the status and what kind of body came back; never the body itself
    assert "text/html" in error.detail
    assert "<" not in error.detail and "Application-Gateway" not in error.detail


def test_a_gateway_error_that_persists_fails_after_the_last_attempt(tenant, rooms):
    faults = FaultConfig(
        gateway_error_probability=1.0, gateway_statuses=(503,), gateway_body="empty"
    )
    retry = RetryPolicy(max_attempts=3, backoff_base_seconds=0.001)
    with SimulatorServer(tenant, faults) as server:
        with pytest.raises(GraphRequestError) as caught:
            read(server, StaticTokenCredential("sim-token"), rooms[:1], retry=retry)
        assert server.stats.total_requests == 3
    error = caught.value
    assert (error.status, error.reason, error.retries) == (503, ERROR, 2)
    assert error.detail == "HTTP 503 http_503: no Graph error in the response (an empty body)"


class FlakyTokenEndpoint(StaticTokenCredential):
    """The token endpoint out of reach for the first request (azure-core raises
    ServiceRequestError once its own retries are spent)."""

    def __init__(self) -> None:
        super().__init__("sim-token")
        self.calls = 0

    async def get_token(self, *scopes, **kwargs) -> AccessToken:
        self.calls += 1
        if self.calls == 1:
            raise ServiceRequestError("Cannot connect to host login.microsoftonline.com:443")
        return await super().get_token(*scopes, **kwargs)


def test_a_token_endpoint_out_of_reach_is_retried(tenant, rooms, clean):
    credential = FlakyTokenEndpoint()
    with SimulatorServer(tenant) as server:
        events, stats = read(server, credential, rooms[:1])
    assert events == {rooms[0]: clean[rooms[0]]}
    assert stats[rooms[0]].retries == 1 and credential.calls >= 2


# ------------------------------------------------------------- token refresh, TLS
def _certificates(folder: Path) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it: (CA file,
    certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def build(subject, issuer, public_key, signing_key, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                critical=False,
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("roomcal test CA", "roomcal test CA", ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build("127.0.0.1", "roomcal test CA", key.public_key(), ca_key, ca=False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tuple(str(p) for p in paths)


@pytest.fixture
def https_server(tenant, tmp_path):
    """The simulator with its token endpoint over HTTPS, and no static token."""
    ca, cert, key = _certificates(tmp_path)
    with SimulatorServer(tenant, token=None, tls=(cert, key)) as server:
        yield server, ca


@pytest.fixture
def identity(https_server, roomcal_env):
    """What production builds from the environment: azure-identity's ClientSecretCredential
    for the simulated tenant, its authority (AZURE_AUTHORITY_HOST) the HTTPS simulator."""
    from azure.identity.aio import ClientSecretCredential

    server, ca = https_server
    roomcal_env.setenv("AZURE_TENANT_ID", "simtenant")
    roomcal_env.setenv("AZURE_CLIENT_ID", "roomcal-app")
    roomcal_env.setenv("AZURE_CLIENT_SECRET", "not-a-real-secret")
    roomcal_env.setenv("AZURE_AUTHORITY_HOST", server.authority)

    def make():
        credential = credential_from_settings(Settings.from_env(), connection_verify=ca)
        assert isinstance(credential, RefreshableCredential)
        assert isinstance(credential._inner, ClientSecretCredential)
        return credential

    return server, make


def test_a_revoked_token_gets_exactly_one_new_token_from_azure_identity(identity, rooms, clean):
    server, make = identity

    async def run():
        credential = make()
        async with GraphClient(server.base_url, credential, page_size=7, retry=FAST) as client:

            async def room_events(room):
                return [e async for page in client.calendar_view(room, *WINDOW) for e in page]

            await room_events(rooms[0])  # azure-identity fetches a token and caches it
            assert server.stats.token_requests == 1
            server.revoke_tokens()  # Graph now rejects it; azure-identity's cache still has it
            # every room at once: the requests in flight all meet the 401
            found = await asyncio.gather(*(room_events(room) for room in rooms))
            assert server.stats.token_requests == 2  # one new token, not one per request
            await room_events(rooms[1])  # the new token comes from the cache from now on
            return found, client.stats

    found, stats = asyncio.run(run())
    assert {
        room: sorted(e, key=lambda e: e["id"]) for room, e in zip(rooms, found, strict=True)
    } == clean
    assert server.stats.token_requests == 2
    assert server.stats.status_counts[401] >= 1
    assert sum(stats[room].retries for room in rooms) == server.stats.status_counts[401]


def test_a_401_that_persists_after_the_refresh_is_auth_failed_after_one_refresh(identity, rooms):
    server, make = identity

    async def run():
        credential = make()
        async with GraphClient(server.base_url, credential, page_size=7, retry=FAST) as client:
            async for _ in client.calendar_view(rooms[0], *WINDOW):
                pass
            server.revoke_tokens(also_new=True)  # no new token will cure this
            with pytest.raises(GraphRequestError) as caught:
                async for _ in client.calendar_view(rooms[1], *WINDOW):
                    pass
            return caught.value, client.stats[rooms[1]]

    error, stats = asyncio.run(run())
    assert (error.status, error.reason, error.code) == (
        401,
        AUTH_FAILED,
        "InvalidAuthenticationToken",
    )
    assert server.stats.token_requests == 2  # the first token and exactly one refresh
    assert server.stats.status_counts[401] == 2  # the first answer and the retry, no loop
    assert (stats.requests, stats.retries) == (2, 1)
