"""A token that expires mid-sync: the client gets a new one once and the sync converges.

The real azure-identity ClientSecretCredential (over HTTPS) is exercised in
tests/integration/test_gateway_and_token_refresh.py; here a stand-in and unit checks.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date

import httpx
import pytest
from azure.core.credentials import AccessToken

from roomcal_pipeline.graph.client import GraphClient, RetryPolicy
from roomcal_pipeline.graph.credentials import RefreshableCredential
from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer
from tests.sync.test_delta_sync import WINDOW, healthy, prepare, stored, truth

pytestmark = pytest.mark.integration


class ClientCredentialsOverHttp:
    """Stands in for azure-identity's ClientSecretCredential against the simulator's
    token endpoint (azure-identity refuses authorities that are not https); like it,
    it caches a token until it expires and fetches a new one when given claims."""

    def __init__(self, token_url: str) -> None:
        self.token_url, self.cached, self.fetched, self.claims = token_url, None, 0, []

    async def get_token(self, *scopes, claims=None, **kwargs) -> AccessToken:
        if self.cached is None or claims or self.cached.expires_on < time.time():
            async with httpx.AsyncClient() as http:
                body = (
                    await http.post(
                        self.token_url,
                        data={
                            "grant_type": "client_credentials",
                            "client_id": "app",
                            "client_secret": "s",
                        },
                    )
                ).json()
            self.cached = AccessToken(body["access_token"], int(time.time()) + body["expires_in"])
            self.fetched += 1
            self.claims.append(claims)
        return self.cached

    async def close(self) -> None:
        return None


def test_sync_survives_a_forced_token_expiry(server_warehouse_url):
    from roomcal_pipeline.extraction.delta import sync_rooms
    from tests.sync.test_delta_sync import mutate

    tenant = SimulatedTenant(seed=61, today=date.today(), history_days=10, future_days=30)
    prepare(server_warehouse_url, tenant)
    rooms = healthy(tenant, 3)
    with SimulatorServer(tenant, token=None) as server:
        inner = ClientCredentialsOverHttp(server.token_url)
        credential = RefreshableCredential(inner)

        async def run(run_id):
            client = GraphClient(
                server.base_url, credential, retry=RetryPolicy(backoff_base_seconds=0.01)
            )
            async with client:
                return await sync_rooms(rooms, client, server_warehouse_url, run_id, *WINDOW)

        first = asyncio.run(run("first"))
        assert all(r.status == "synced" for r in first), [(r.reason, r.detail) for r in first]
        mutate(tenant, rooms[0], 0)
        fetched_before = inner.fetched
        server.expire_tokens()  # every token issued so far now answers 401
        results = asyncio.run(run("after-expiry"))
    assert all(r.status == "synced" for r in results), [(r.reason, r.detail) for r in results]
    # one new token for all the requests that met the 401 at once, not one per request
    assert inner.fetched - fetched_before == 1
    assert inner.claims[-1]  # asked for with claims, which azure-identity's cache skips
    assert stored(server_warehouse_url, {r.email for r in rooms}) == truth(tenant, rooms)


class CachingIdentity:
    """Behaves like azure-identity's cache: the cached token unless `claims` are given,
    then a token request (which takes a moment) whose token replaces the cached one."""

    def __init__(self, fail_refreshes: int = 0) -> None:
        self.issued, self.requests, self.fail_refreshes = 0, [], fail_refreshes

    async def get_token(self, *scopes, claims=None, enable_cae=False, **kwargs) -> AccessToken:
        if self.issued and not claims:
            return AccessToken(f"T{self.issued}", int(time.time()) + 3600)
        self.requests.append(claims)
        await asyncio.sleep(0.01)
        if claims and self.fail_refreshes:
            self.fail_refreshes -= 1
            raise ConnectionError("token endpoint out of reach")
        self.issued += 1
        return AccessToken(f"T{self.issued}", int(time.time()) + 3600)

    async def close(self) -> None:
        return None


SCOPE = "https://graph.microsoft.com/.default"


def test_requests_rejected_together_share_one_new_token():
    inner = CachingIdentity()
    credential = RefreshableCredential(inner)

    async def rejected(token: str) -> str:
        await credential.invalidate(token)
        return (await credential.get_token(SCOPE, claims=None, enable_cae=True)).token

    async def run():
        first = (await credential.get_token(SCOPE, claims=None, enable_cae=True)).token
        tokens = await asyncio.gather(*(rejected(first) for _ in range(6)))
        late = await rejected(first)  # a 401 for a token already replaced asks for nothing
        return first, tokens, late

    first, tokens, late = asyncio.run(run())
    assert first == "T1" and tokens == ["T2"] * 6 and late == "T2"
    assert inner.requests == [None, '{"access_token":{}}']  # one refresh, with claims


def test_a_failed_refresh_is_asked_for_again_by_the_next_request():
    inner = CachingIdentity(fail_refreshes=1)
    credential = RefreshableCredential(inner)

    async def run():
        await credential.get_token(SCOPE)
        await credential.invalidate("T1")
        with pytest.raises(ConnectionError):
            await credential.get_token(SCOPE)
        return (await credential.get_token(SCOPE)).token

    assert asyncio.run(run()) == "T2"  # not the rejected T1 from the cache
    assert len(inner.requests) == 3
