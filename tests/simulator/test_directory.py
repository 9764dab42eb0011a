"""The simulated directory (issue 11): UPNs that differ from mail, aliases in
proxyAddresses, GET /users/{id | userPrincipalName}, $filter on mail / proxyAddresses and
JSON batching ($batch) with Graph's shapes."""

from __future__ import annotations

from roomcal_pipeline.simulator import FaultConfig


def _people(tenant):
    upn = next(u for u in tenant.users if u.upn)
    alias = next(u for u in tenant.users if u.aliases)
    return upn, alias


def _filter(address: str) -> str:
    return (
        f"/users?$filter=mail eq '{address}' or proxyAddresses/any(x:x eq 'smtp:{address}')"
        "&$select=department,mail&$count=true"
    )


def _any_of(addresses: list[str]) -> str:
    """One lookup of several addresses as UPN, mail or alias (what the client sends)."""
    values = ",".join(f"'{a}'" for a in addresses)
    proxies = " or ".join(f"proxyAddresses/any(p:p eq 'smtp:{a}')" for a in addresses)
    return (
        f"/users?$filter=userPrincipalName in ({values}) or mail in ({values}) or {proxies}"
        "&$select=department,userPrincipalName,mail"
    )


def test_directory_has_upns_that_differ_and_aliases(sim_tenant):
    upn, alias = _people(sim_tenant)
    assert upn.upn != upn.address and upn.upn.endswith("@contoso.onmicrosoft.com")
    assert f"SMTP:{alias.address}" in alias.proxy_addresses
    assert f"smtp:{alias.aliases[0]}" in alias.proxy_addresses
    # Ground truth resolves mail and alias addresses alike.
    assert sim_tenant.department(alias.aliases[0]) == alias.department


def test_get_user_finds_by_upn_only(sim, graph, sim_tenant):
    upn, _ = _people(sim_tenant)
    ok = graph.get(f"{sim.base_url}/users/{upn.upn.upper()}?$select=department")
    assert ok.status_code == 200
    assert ok.json()["department"] == upn.department
    missing = graph.get(f"{sim.base_url}/users/{upn.address}?$select=department")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_filter_on_mail_and_proxy_addresses(sim, graph, sim_tenant):
    upn, alias = _people(sim_tenant)
    eventual = {"ConsistencyLevel": "eventual"}
    by_mail = graph.get(sim.base_url + _filter(upn.address.upper()), headers=eventual)
    assert by_mail.status_code == 200
    assert by_mail.json()["value"] == [{"mail": upn.address, "department": upn.department}]
    assert by_mail.json()["@odata.count"] == 1
    by_alias = graph.get(sim.base_url + _filter(alias.aliases[0]), headers=eventual)
    assert by_alias.json()["value"][0]["mail"] == alias.address
    nobody = graph.get(sim.base_url + _filter("someone@fabrikam.example"), headers=eventual)
    assert nobody.status_code == 200 and nobody.json()["value"] == []
    # $count is an advanced query: without ConsistencyLevel Graph answers 400.
    assert graph.get(sim.base_url + _filter(upn.address)).status_code == 400


def test_filter_in_lists_match_upn_mail_and_alias_up_to_15_clauses(sim, graph, sim_tenant):
    upn, alias = _people(sim_tenant)
    asked = [upn.upn.upper(), upn.address, alias.aliases[0], "someone@fabrikam.example"]
    resp = graph.get(sim.base_url + _any_of(asked))
    assert resp.status_code == 200
    found = {u["mail"] for u in resp.json()["value"]}
    assert found == {upn.address, alias.address}
    # 6 addresses x 3 clauses = 18 OR clauses: over the default query's 15.
    six = [u.address for u in sim_tenant.users[:6]]
    too_many = graph.get(sim.base_url + _any_of(six))
    assert too_many.status_code == 400
    assert "Max allowed: 15" in too_many.json()["error"]["message"]
    advanced = graph.get(sim.base_url + _any_of(six), headers={"ConsistencyLevel": "eventual"})
    assert advanced.status_code == 200 and len(advanced.json()["value"]) == 6


def test_batch_answers_each_request_with_its_own_status(sim, graph, sim_tenant):
    upn, alias = _people(sim_tenant)
    requests = [
        {"id": "1", "method": "GET", "url": f"/users/{upn.upn}?$select=department"},
        {"id": "2", "method": "GET", "url": f"/users/{alias.aliases[0]}?$select=department"},
        {
            "id": "3",
            "method": "GET",
            "url": _filter(alias.aliases[0]),
            "headers": {"ConsistencyLevel": "eventual"},
        },
    ]
    resp = graph.post(f"{sim.base_url}/$batch", json={"requests": requests})
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["department"] == upn.department
    assert by_id["2"]["status"] == 404
    assert by_id["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["3"]["status"] == 200 and by_id["3"]["body"]["value"][0]["mail"] == alias.address
    too_many = [dict(requests[0], id=str(i)) for i in range(21)]
    assert graph.post(f"{sim.base_url}/$batch", json={"requests": too_many}).status_code == 400
    dup = [requests[0], dict(requests[1], id="1")]
    assert graph.post(f"{sim.base_url}/$batch", json={"requests": dup}).status_code == 400


def test_batch_throttles_sub_requests_and_forbids_the_directory(sim, graph, sim_tenant):
    upn, _ = _people(sim_tenant)
    requests = [
        {"id": str(i), "method": "GET", "url": f"/users/{u.principal}?$select=department"}
        for i, u in enumerate(sim_tenant.users[:20])
    ]
    sim.faults = FaultConfig(batch_throttle_probability=0.5, retry_after_seconds=2)
    answers = graph.post(f"{sim.base_url}/$batch", json={"requests": requests}).json()
    statuses = {r["status"] for r in answers["responses"]}
    assert statuses == {200, 429}
    throttled = [r for r in answers["responses"] if r["status"] == 429]
    assert all(r["headers"]["Retry-After"] == "2" for r in throttled)
    sim.faults = FaultConfig(users_forbidden=True)
    answers = graph.post(f"{sim.base_url}/$batch", json={"requests": requests[:2]}).json()
    assert {r["status"] for r in answers["responses"]} == {403}
    assert answers["responses"][0]["body"]["error"]["code"] == "Authorization_RequestDenied"
    direct = graph.get(
        sim.base_url + _filter(upn.address), headers={"ConsistencyLevel": "eventual"}
    )
    assert direct.status_code == 403
