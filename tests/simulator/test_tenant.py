"""The generated organisation: determinism, variety, registry and ground truth."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from roomcal_pipeline.simulator import SimulatedTenant

from .conftest import TODAY, WINDOW


def _all_events(tenant: SimulatedTenant, days: int = 28) -> dict[str, list[dict]]:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    return {
        r.email: tenant.calendar_view(r.email, start, start + timedelta(days=days))
        for r in tenant.rooms
        if r.email and r.failure is None
    }


def test_same_seed_same_events_and_other_seed_differs():
    a = SimulatedTenant(seed=3, today=TODAY).calendar_view("nyc-room-002@contoso.example", *WINDOW)
    b = SimulatedTenant(seed=3, today=TODAY).calendar_view("nyc-room-002@contoso.example", *WINDOW)
    c = SimulatedTenant(seed=4, today=TODAY).calendar_view("nyc-room-002@contoso.example", *WINDOW)
    assert a == b and len(a) > 20
    assert [e["id"] for e in a] != [e["id"] for e in c]


def _instant(pair: dict, e: dict, zone: str) -> datetime:
    """A wire start/end as an instant: all-day dates are the room's local midnights."""
    wall = datetime.fromisoformat(pair["dateTime"][:26])
    if e["isAllDay"]:
        return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return wall.replace(tzinfo=UTC)


def test_calendar_view_is_ordered_overlapping_and_never_series_masters(sim_tenant):
    start, end = WINDOW
    zone = "Australia/Adelaide"
    events = sim_tenant.calendar_view("adl-room-002@contoso.example", start, end)
    keys = [(_instant(e["start"], e, zone), e["id"]) for e in events]
    assert keys == sorted(keys)
    for e in events:
        assert e["type"] in {"singleInstance", "occurrence", "exception"}
        s, f = _instant(e["start"], e, zone), _instant(e["end"], e, zone)
        assert s < end and f > start
        assert e["start"]["timeZone"] == "UTC" and len(e["start"]["dateTime"].split(".")[1]) == 7


def test_variety_of_bookings(sim_tenant):
    by_room = _all_events(sim_tenant)
    events = [e for evs in by_room.values() for e in evs]
    types = Counter(e["type"] for e in events)
    assert types["occurrence"] and types["exception"] and types["singleInstance"]
    assert all(e["seriesMasterId"] for e in events if e["type"] != "singleInstance")
    assert any(e["isCancelled"] and e["type"] == "occurrence" for e in events)
    assert any(e["isAllDay"] and e["start"]["dateTime"] != e["end"]["dateTime"] for e in events)
    assert any(e["sensitivity"] == "private" for e in events)
    assert any(e["showAs"] == "free" for e in events)
    online = [e for e in events if e["isOnlineMeeting"]]
    assert online and all(e["onlineMeetingProvider"] == "teamsForBusiness" for e in online)
    assert all(e["onlineMeeting"]["joinUrl"] for e in online)
    assert any(e["onlineMeetingUrl"] for e in online)
    leads = []
    for e in events:
        if e["type"] == "singleInstance" and not e["isAllDay"]:
            start = datetime.fromisoformat(e["start"]["dateTime"][:26]).replace(tzinfo=UTC)
            created = datetime.fromisoformat(e["createdDateTime"][:26]).replace(tzinfo=UTC)
            leads.append((start - created).total_seconds() / 60)
    assert any(x < 0 for x in leads), "some bookings are made after they started"
    assert any(0 < x <= 30 for x in leads) and any(x > 1440 for x in leads)
    atypes = {a["type"] for e in events for a in e["attendees"]}
    assert atypes == {"required", "optional", "resource"}


def test_organizers_departments_and_externals(sim_tenant):
    events = [e for evs in _all_events(sim_tenant, 7).values() for e in evs]
    organizers = {e["organizer"]["emailAddress"]["address"] for e in events}
    depts = {}
    for address in organizers:
        try:
            depts[address] = sim_tenant.department(address)
        except KeyError:
            depts[address] = KeyError
    assert KeyError in depts.values()
    assert None in depts.values()
    assert any(isinstance(d, str) for d in depts.values())
    with pytest.raises(KeyError):
        sim_tenant.department("someone@fabrikam.example")


def test_multi_room_meetings_share_ical_uid(sim_tenant):
    by_uid = defaultdict(list)
    for email, evs in _all_events(sim_tenant, 14).items():
        for e in evs:
            by_uid[e["iCalUId"]].append((email, e["id"]))
    shared = [v for v in by_uid.values() if len({m for m, _ in v}) == 2]
    assert shared
    for (m1, id1), (m2, id2) in shared:
        assert m1 != m2 and id1 != id2


def test_half_hour_zone_and_dst():
    tenant = SimulatedTenant(seed=1, today=TODAY)
    kolkata = tenant.calendar_view("blr-room-001@contoso.example", *WINDOW)
    assert any(e["isAllDay"] for e in kolkata) and any(not e["isAllDay"] for e in kolkata)
    for e in kolkata:
        utc = datetime.fromisoformat(e["start"]["dateTime"][:26])
        local = (utc + timedelta(hours=5, minutes=30)).time()
        if e["isAllDay"]:  # floating dates: midnight on the wire, not 18:30 UTC
            assert utc.hour == 0 and utc.minute == 0
        else:  # bookings start on local quarter hours, so at :00/:15/:30/:45 +05:30 in UTC
            assert local.minute % 15 == 0 and utc.minute % 15 == 0
            if e["type"] != "singleInstance":
                assert (7, 0) <= (local.hour, local.minute) < (19, 30)
    # Adelaide moves from +09:30 to +10:30 on 2026-10-04: the same local series slot shifts in UTC.
    before = tenant.calendar_view(
        "adl-room-002@contoso.example",
        datetime(2026, 9, 21, tzinfo=UTC),
        datetime(2026, 9, 28, tzinfo=UTC),
    )
    after = tenant.calendar_view(
        "adl-room-002@contoso.example",
        datetime(2026, 10, 12, tzinfo=UTC),
        datetime(2026, 10, 19, tzinfo=UTC),
    )
    series_before = {
        e["seriesMasterId"]: e["start"]["dateTime"][11:16]
        for e in before
        if e["type"] == "occurrence"
    }
    series_after = {
        e["seriesMasterId"]: e["start"]["dateTime"][11:16]
        for e in after
        if e["type"] == "occurrence"
    }
    common = set(series_before) & set(series_after)
    assert common
    assert all(series_before[s] != series_after[s] for s in common)


def test_registry_csv_contains_special_rows(sim_tenant):
    rows = list(csv.DictReader(io.StringIO(sim_tenant.registry_csv())))
    assert list(rows[0]) == [
        "email",
        "name",
        "building",
        "floor",
        "capacity",
        "timezone",
        "business_hours",
        "business_days",
    ]
    emails = [r["email"] for r in rows]
    assert "" in emails
    failing = {r.email: r.failure for r in sim_tenant.rooms if r.failure}
    assert set(failing.values()) == {"mailbox_not_found", "mailbox_not_enabled", "access_denied"}
    assert set(failing) <= set(emails)
    assert not [r for r in sim_tenant.rooms if not r.in_registry and r.email in emails]
    assert any(
        r.in_registry and r.email and not r.in_places for r in sim_tenant.rooms if r.failure is None
    )
    assert any(r["business_hours"] for r in rows) and any(r["business_days"] for r in rows)
    assert {r["timezone"] for r in rows} >= {
        "Europe/London",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Adelaide",
    }


def test_large_tenant_is_lazy():
    tenant = SimulatedTenant(seed=5, rooms_per_building=250, bookings_per_day=20, today=TODAY)
    assert len([r for r in tenant.rooms if r.email]) >= 1000
    assert not tenant.store.rooms
    day = tenant.calendar_view(tenant.rooms[700].email, *WINDOW)
    assert len(day) > 100 and not tenant.store.rooms
