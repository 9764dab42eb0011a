"""calendarView over HTTP: paging, $select, Prefer headers, errors and auth."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ROOM, WINDOW, collect, view_url


@pytest.mark.parametrize(
    ("how", "size"), [("top", 1), ("prefer", 7), ("top", 1000), ("default", 10)]
)
def test_paging_is_complete_and_stable(sim, graph, sim_tenant, how, size):
    truth = sim_tenant.calendar_view(ROOM, *WINDOW)
    extra = f"&$top={size}" if how == "top" else ""
    headers = {"Prefer": f"odata.maxpagesize={size}"} if how == "prefer" else {}
    events, pages = collect(graph, view_url(sim, extra=extra), headers)
    assert events == truth
    assert pages == -(-len(truth) // size) or pages == -(-len(truth) // size) + 1


def test_next_link_is_absolute_with_opaque_skiptoken(sim, graph):
    body = graph.get(view_url(sim, extra="&$top=5")).json()
    link = body["@odata.nextLink"]
    assert link.startswith(sim.base_url + "/users/") and "$skiptoken=" in link
    assert "startDateTime=" in link and len(body["value"]) == 5


def test_select_is_honoured(sim, graph):
    events, _ = collect(graph, view_url(sim, extra="&$select=start,end,organizer,iCalUId"))
    assert events
    for e in events:
        assert set(e) == {"@odata.etag", "id", "start", "end", "organizer", "iCalUId"}


def _minutes(value: str) -> int:
    return int(value[11:13]) * 60 + int(value[14:16])


@pytest.mark.parametrize(
    ("zone", "shift"),
    [("Europe/London", 60), ("GMT Standard Time", 60), ("India Standard Time", 330)],
)
def test_prefer_outlook_timezone(sim, graph, sim_tenant, zone, shift):
    resp = graph.get(
        view_url(sim, extra="&$top=3"), headers={"Prefer": f'outlook.timezone="{zone}"'}
    )
    assert resp.status_code == 200
    utc = sim_tenant.calendar_view(ROOM, *WINDOW)[:3]
    for local, ref in zip(resp.json()["value"], utc, strict=True):
        assert local["start"]["timeZone"] == zone
        diff = _minutes(local["start"]["dateTime"]) - _minutes(ref["start"]["dateTime"])
        # All-day events are floating dates: the same midnight in every zone.
        assert diff % 1440 == (0 if ref["isAllDay"] else shift)
    assert zone in resp.headers["Preference-Applied"]


def test_calendar_alias_path_and_missing_window(sim, graph):
    url = view_url(sim).replace("/calendarView", "/calendar/calendarView")
    assert graph.get(url).status_code == 200
    resp = graph.get(f"{sim.base_url}/users/{ROOM}/calendarView")
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["error"]["code"] == "ErrorInvalidParameter"


@pytest.mark.parametrize(
    ("mailbox", "status", "codes"),
    [
        (
            "blr-ghost-room@contoso.example",
            404,
            {"ErrorItemNotFound", "ResourceNotFound", "ErrorInvalidUser"},
        ),
        ("nyc-legacy-room@contoso.example", 404, {"MailboxNotEnabledForRESTAPI"}),
        ("lon-boardroom@contoso.example", 403, {"ErrorAccessDenied"}),
        ("nobody@contoso.example", 404, {"ErrorInvalidUser"}),
    ],
)
def test_failing_rooms_answer_graph_errors(sim, graph, mailbox, status, codes):
    seen = set()
    for _ in range(3):
        resp = graph.get(view_url(sim, mailbox=mailbox))
        assert resp.status_code == status
        assert resp.headers["Content-Type"].startswith("application/json")
        err = resp.json()["error"]
        assert set(err["innerError"]) == {"date", "request-id", "client-request-id"}
        seen.add(err["code"])
    assert seen == codes


def test_set_room_failure_at_runtime(sim, graph, sim_tenant):
    sim_tenant.set_room_failure(ROOM, "access_denied")
    try:
        assert graph.get(view_url(sim)).json()["error"]["code"] == "ErrorAccessDenied"
    finally:
        sim_tenant.set_room_failure(ROOM, None)
    assert graph.get(view_url(sim)).status_code == 200


def test_auth_missing_wrong_and_expired_tokens(sim):
    url = view_url(sim)
    assert httpx.get(url).json()["error"]["code"] == "InvalidAuthenticationToken"
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    resp = httpx.post(
        sim.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "c",
            "client_secret": "s",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    issued = resp.json()["access_token"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {issued}"}).status_code == 200
    sim.expire_tokens()
    try:
        for token in ("sim-token", issued):
            resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"
    finally:
        sim.accept_token("sim-token")


def test_places_paging_with_skip(sim, graph, sim_tenant):
    url = f"{sim.base_url}/places/microsoft.graph.room"
    everything = graph.get(url).json()
    assert "@odata.nextLink" not in everything
    listed = [p["emailAddress"] for p in everything["value"]]
    assert listed == [r.email for r in sim_tenant.rooms if r.in_places and r.email]
    assert "adl-annex@contoso.example" in listed and "blr-ghost-room@contoso.example" not in listed
    paged = []
    for skip in range(0, len(listed) + 4, 4):
        page = graph.get(url, params={"$top": 4, "$skip": skip}).json()
        assert "@odata.nextLink" not in page
        paged += [p["emailAddress"] for p in page["value"]]
    assert paged == listed
    first = everything["value"][0]
    assert {"id", "emailAddress", "displayName", "capacity", "building", "floorNumber"} <= set(
        first
    )


def test_users_department_404_and_403(sim, graph, sim_tenant):
    with_dept = next(u for u in sim_tenant.users if u.department)
    without = next(u for u in sim_tenant.users if u.department is None)
    body = graph.get(
        f"{sim.base_url}/users/{with_dept.address}", params={"$select": "department"}
    ).json()
    assert body["department"] == with_dept.department and "displayName" not in body
    body = graph.get(
        f"{sim.base_url}/users/{without.address}", params={"$select": "department"}
    ).json()
    assert "department" in body and body["department"] is None
    resp = graph.get(
        f"{sim.base_url}/users/{sim_tenant.externals[0].address}", params={"$select": "department"}
    )
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "Request_ResourceNotFound"
    sim.faults.users_forbidden = True
    resp = graph.get(f"{sim.base_url}/users/{with_dept.address}", params={"$select": "department"})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "Authorization_RequestDenied"
