"""Directory lookups through the real client against the simulated directory (issue 11):
every SMTP address resolved the way Exchange does (UPN, then mail, then an `smtp:` proxy
address), a hundred addresses per `$batch`, transient sub-request failures retried within
the run, and a directory without User.Read.All costing one request.

The expected answers come from the simulator's people (SimUser), not from the client."""

from __future__ import annotations

import asyncio
import math
from datetime import date

from roomcal_pipeline.graph.client import DirectoryEntry, GraphClient, RetryPolicy
from roomcal_pipeline.graph.credentials import StaticTokenCredential
from roomcal_pipeline.simulator import FaultConfig, SimulatedTenant, SimulatorServer

FAST = RetryPolicy(backoff_base_seconds=0.05)


def truth(tenant: SimulatedTenant) -> dict[str, tuple[str, str | None, str | None]]:
    """(status, department, via) for every address a person can be known by, in several
    spellings, and for externals and unknown addresses."""
    out: dict[str, tuple[str, str | None, str | None]] = {}
    for user in tenant.users:
        out[user.address] = ("found", user.department, "upn" if not user.upn else "mail")
        out[user.address.upper()] = out[user.address]
        if user.upn:
            out[user.upn] = ("found", user.department, "upn")
        for alias in user.aliases:
            out[alias] = ("found", user.department, "proxy")
            out[alias.title()] = out[alias]
    for external in tenant.externals:
        out[external.address] = ("not_found", None, None)
    out["nobody@contoso.example"] = ("not_found", None, None)
    out["o'brien@fabrikam.example"] = ("not_found", None, None)  # a quote in OData
    return out


def look_up(server: SimulatorServer, addresses: list[str]) -> tuple[dict, GraphClient]:
    async def run() -> tuple[dict[str, DirectoryEntry], GraphClient]:
        async with GraphClient(
            server.base_url, StaticTokenCredential("sim-token"), retry=FAST
        ) as c:
            return await c.departments(addresses), c

    return asyncio.run(run())


def as_tuples(entries: dict[str, DirectoryEntry]) -> dict:
    return {a: (e.status, e.department, e.via) for a, e in entries.items()}


def test_every_spelling_of_every_person_resolves_a_hundred_per_batch():
    tenant = SimulatedTenant(seed=11, today=date(2026, 3, 2), people=300)
    expected = truth(tenant)
    assert {v[2] for v in expected.values()} == {"upn", "mail", "proxy", None}
    with SimulatorServer(tenant) as server:
        entries, client = look_up(server, list(expected))
    assert as_tuples(entries) == expected
    assert client.directory_batches == math.ceil(len(expected) / 100)
    assert client.stats["directory"].requests == client.directory_batches


def test_throttled_and_failing_sub_requests_are_retried_within_the_run():
    tenant = SimulatedTenant(seed=11, today=date(2026, 3, 2), people=200)
    expected = truth(tenant)
    faults = FaultConfig(
        batch_throttle_probability=0.2, batch_error_probability=0.2, retry_after_seconds=1
    )
    with SimulatorServer(tenant, faults) as server:
        entries, client = look_up(server, list(expected))
        injected = dict(server.stats.faults_injected)
    assert injected.get("batch-429", 0) > 0 and injected.get("batch-503", 0) > 0
    assert client.stats["directory"].retries > 0
    assert as_tuples(entries) == expected


def test_a_lookup_that_keeps_failing_is_an_error_not_external():
    tenant = SimulatedTenant(seed=11, today=date(2026, 3, 2))
    expected = truth(tenant)
    with SimulatorServer(tenant, FaultConfig(users_error_status=503)) as server:
        entries, client = look_up(server, list(expected))
    assert {e.status for e in entries.values()} == {"error"}
    # Four tries per batch: the first and three retries after a backoff.
    assert client.directory_batches == 4 * math.ceil(len(expected) / 100)


def test_without_user_read_all_one_request_answers_for_everyone():
    tenant = SimulatedTenant(seed=11, today=date(2026, 3, 2), people=300)
    expected = truth(tenant)
    with SimulatorServer(tenant, FaultConfig(users_forbidden=True)) as server:
        entries, client = look_up(server, list(expected))
    assert len(expected) > 100  # more than one batch could hold
    assert {e.status for e in entries.values()} == {"forbidden"}
    assert client.directory_batches == 1
