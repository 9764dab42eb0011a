"""A token that expires mid-sync: the client gets a new one once and the sync converges."""

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
        self.token_url, self.cached, self.fetched = token_url, None, 0

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
    # a new token once per room that met the 401, not once per request
    assert 1 <= inner.fetched - fetched_before <= len(rooms)
    assert stored(server_warehouse_url, {r.email for r in rooms}) == truth(tenant, rooms)
