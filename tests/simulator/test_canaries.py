"""Canary tenant: every non-allowlisted field carries CANARY_PREFIX, allowlisted ones never do."""

from __future__ import annotations

import httpx
import orjson

from roomcal_pipeline.simulator import CANARY_PREFIX, SimulatedTenant, SimulatorServer

from .conftest import TODAY, WINDOW, iso

ROOMS = ("lon-room-001@contoso.example", "blr-room-002@contoso.example")
_TOP = (
    "id",
    "iCalUId",
    "seriesMasterId",
    "type",
    "start",
    "end",
    "isAllDay",
    "createdDateTime",
    "lastModifiedDateTime",
    "recurrence",
    "sensitivity",
    "isCancelled",
    "showAs",
    "onlineMeetingProvider",
    "isOnlineMeeting",
)
_LOC = ("displayName", "locationEmailAddress", "locationType")


def _allowlisted(e: dict) -> dict:
    """The docs/privacy.md projection, written independently of the pipeline."""
    out = {k: e[k] for k in _TOP if k in e and k != "recurrence"}
    for k in ("start", "end"):
        if k in out:
            out[k] = {"dateTime": e[k]["dateTime"], "timeZone": e[k]["timeZone"]}
    if e.get("recurrence"):
        rec = e["recurrence"]
        out["recurrence"] = {
            "pattern": {k: v for k, v in rec["pattern"].items() if k != "canaryField"},
            "range": rec["range"],
        }
    if "organizer" in e:
        ea = e["organizer"]["emailAddress"]
        out["organizer"] = {"name": ea["name"], "address": ea["address"]}
    if "attendees" in e:
        out["attendees"] = [
            {
                "name": a["emailAddress"]["name"],
                "address": a["emailAddress"]["address"],
                "type": a["type"],
                "response": a["status"]["response"],
            }
            for a in e["attendees"]
        ]
    if "location" in e:
        out["location"] = {k: e["location"].get(k) for k in _LOC}
        out["locations"] = [{k: loc.get(k) for k in _LOC} for loc in e["locations"]]
    return out


def _fetch_all(client, url):
    items = []
    while url:
        body = client.get(url, headers={"Prefer": "odata.maxpagesize=200"}).json()
        items += body["value"]
        url = body.get("@odata.nextLink")
    return items


def test_canaries_only_outside_the_allowlist():
    tenant = SimulatedTenant(seed=2, today=TODAY, canaries=True, history_days=60, future_days=20)
    start, end = WINDOW
    q = f"startDateTime={iso(start)}&endDateTime={iso(end)}"
    with (
        SimulatorServer(tenant) as server,
        httpx.Client(headers={"Authorization": "Bearer sim-token"}) as client,
    ):
        events = []
        for room in ROOMS:
            events += _fetch_all(client, f"{server.base_url}/users/{room}/calendarView?{q}")
            events += _fetch_all(client, f"{server.base_url}/users/{room}/calendarView/delta?{q}")
    full = [e for e in events if "subject" in e]
    assert any(e["type"] == "seriesMaster" for e in full) and len(full) > 50
    for e in full:
        assert CANARY_PREFIX not in orjson.dumps(_allowlisted(e)).decode(), e["id"]
        sensitive = [
            e["subject"],
            e["body"]["content"],
            e["bodyPreview"],
            e["webLink"],
            e["transactionId"],
            e["changeKey"],
            e["categories"][0],
            e["attachments"][0]["name"],
            e["organizer"]["emailAddress"]["canaryField"],
            e["location"]["uniqueId"],
            e["responseStatus"]["time"],
        ]
        sensitive += [a["status"]["time"] for a in e["attendees"]]
        sensitive += [loc["address"]["street"] for loc in e["locations"]]
        if e["onlineMeeting"]:
            sensitive.append(e["onlineMeeting"]["joinUrl"])
        if e["onlineMeetingUrl"]:
            sensitive.append(e["onlineMeetingUrl"])
        if e["recurrence"]:
            sensitive.append(e["recurrence"]["pattern"]["canaryField"])
        assert all(isinstance(s, str) and s.startswith(CANARY_PREFIX) for s in sensitive), e["id"]
    assert any(e["onlineMeeting"] for e in full) and any(e["onlineMeetingUrl"] for e in full)
    # Ground truth carries the same canaries as the wire.
    truth = tenant.calendar_view(ROOMS[0], start, end)
    assert all(t["subject"].startswith(CANARY_PREFIX) for t in truth)
