"""calendarView/delta: initial sync, incremental changes with @removed, and 410s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomcal_pipeline.simulator import SimulatedTenant, SimulatorServer

from .conftest import TODAY, WINDOW, iso

ROOM = "nyc-room-002@contoso.example"


def _delta_url(server, room=ROOM):
    start, end = WINDOW
    query = f"startDateTime={iso(start)}&endDateTime={iso(end)}"
    return f"{server.base_url}/users/{room}/calendarView/delta?{query}"


def _sync(client, url, size=25):
    """Run a delta round; returns items, page sizes and the deltaLink."""
    items, sizes = [], []
    while True:
        resp = client.get(url, headers={"Prefer": f"odata.maxpagesize={size}"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items += body["value"]
        sizes.append(len(body["value"]))
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, sizes, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]
        assert "$skiptoken=" in url


@pytest.fixture
def fresh():
    """A private tenant and server, since these tests mutate calendars."""
    tenant = SimulatedTenant(seed=11, today=TODAY, history_days=60, future_days=20)
    with SimulatorServer(tenant) as server:
        yield tenant, server


def test_initial_delta_matches_calendar_view(sim, graph, sim_tenant):
    items, sizes, delta_link = _sync(graph, _delta_url(sim), size=10)
    assert 0 in sizes[:-1], "some empty pages still carry a nextLink"
    assert "$deltatoken=" in delta_link
    masters = [i for i in items if i["type"] == "seriesMaster"]
    assert masters and all(m["recurrence"]["pattern"]["type"] == "weekly" for m in masters)
    truth = sim_tenant.calendar_view(ROOM, *WINDOW)
    instances = [i for i in items if i["type"] != "seriesMaster"]
    assert [i["id"] for i in instances] == [e["id"] for e in truth]
    trimmed = [
        i
        for i in instances
        if i["type"] == "occurrence"
        and set(i) == {"@odata.type", "id", "type", "seriesMasterId", "start", "end"}
    ]
    assert trimmed
    assert {t["seriesMasterId"] for t in trimmed} <= {m["id"] for m in masters}
    full = [i for i in instances if i["type"] == "singleInstance"]
    assert full and all("subject" in i and "organizer" in i for i in full)


def test_incremental_delta_reports_changes_and_removals(fresh):
    import httpx

    tenant, server = fresh
    client = httpx.Client(headers={"Authorization": "Bearer sim-token"})
    _, _, link = _sync(client, _delta_url(server))
    items, _, link2 = _sync(client, link)
    assert items == []
    truth = tenant.calendar_view(ROOM, *WINDOW)
    single = next(e for e in truth if e["type"] == "singleInstance")
    occ = next(e for e in truth if e["type"] == "occurrence" and not e["isCancelled"])
    gone = next(e for e in truth if e["type"] == "singleInstance" and e["id"] != single["id"])
    start = datetime(2026, 10, 7, 14, tzinfo=UTC)
    new_id = tenant.add_event(
        ROOM,
        {
            "start": {"dateTime": iso(start)[:-1], "timeZone": "UTC"},
            "end": {"dateTime": iso(start + timedelta(hours=1))[:-1], "timeZone": "UTC"},
        },
    )
    tenant.move_event(ROOM, occ["id"], start + timedelta(hours=2), start + timedelta(hours=3))
    tenant.cancel_event(ROOM, single["id"])
    tenant.delete_event(ROOM, gone["id"])
    items, _, _ = _sync(client, link2, size=2)
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {new_id, occ["id"], single["id"], gone["id"]}
    assert by_id[gone["id"]]["@removed"] == {"reason": "deleted"}
    assert by_id[single["id"]]["isCancelled"] is True
    assert by_id[occ["id"]]["type"] == "exception"
    assert by_id[occ["id"]]["start"]["dateTime"].startswith("2026-10-07T16:00")
    assert by_id[new_id]["type"] == "singleInstance"
    after = {e["id"]: e for e in tenant.calendar_view(ROOM, *WINDOW)}
    assert new_id in after and gone["id"] not in after and after[single["id"]]["isCancelled"]


def test_expired_and_invalid_tokens_answer_410(fresh):
    import httpx

    tenant, server = fresh
    client = httpx.Client(headers={"Authorization": "Bearer sim-token"})
    _, _, link = _sync(client, _delta_url(server))
    resp = client.get(link.split("$deltatoken=")[0] + "$deltatoken=garbage")
    assert resp.status_code == 410 and resp.json()["error"]["code"] == "SyncStateNotFound"
    assert client.get(link).status_code == 200
    server.expire_delta_tokens()
    resp = client.get(link)
    assert resp.status_code == 410 and resp.json()["error"]["code"] == "SyncStateNotFound"
    _, _, link = _sync(client, _delta_url(server))
    server.faults.expire_delta_tokens = True
    server.faults.delta_token_error = "resyncRequired"
    resp = client.get(link)
    assert resp.status_code == 410 and resp.json()["error"]["code"] == "resyncRequired"
    server.faults.expire_delta_tokens = False
    assert client.get(link).status_code == 200
