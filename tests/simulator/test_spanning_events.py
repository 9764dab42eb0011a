"""Events that span days: floating all-day events on the wire, multi-day and multi-week
blocks, bookings across midnight, and windows (calendarView, delta) that start inside them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from roomcal_pipeline.simulator import CANARY_PREFIX, SimulatedTenant, SimulatorServer
from roomcal_pipeline.simulator.store import is_long

from .conftest import TODAY, collect, iso
from .test_canaries import _allowlisted

NYC, ADL, BLR = (
    "nyc-room-002@contoso.example",
    "adl-room-002@contoso.example",
    "blr-room-002@contoso.example",
)
ZONES = {NYC: "America/New_York", ADL: "Australia/Adelaide", BLR: "Asia/Kolkata"}


def _fresh(**kw) -> SimulatedTenant:
    return SimulatedTenant(seed=11, today=TODAY, history_days=60, future_days=20, **kw)


def _local(day: date, zone: str, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone)).astimezone(UTC)


def _span(e: dict, zone: str) -> tuple[datetime, datetime]:
    """Local (start, end) of a ground-truth event: all-day dates are the room's midnights."""
    z = ZoneInfo(zone)
    out = []
    for k in ("start", "end"):
        wall = datetime.fromisoformat(e[k]["dateTime"][:26])
        if e["isAllDay"]:
            out.append(wall.replace(tzinfo=z))
        else:
            out.append(wall.replace(tzinfo=UTC).astimezone(z))
    return out[0], out[1]


def _client() -> httpx.Client:
    return httpx.Client(headers={"Authorization": "Bearer sim-token"}, timeout=10)


def _delta(client: httpx.Client, url: str, headers: dict | None = None):
    items = []
    while True:
        body = client.get(url, headers={"Prefer": "odata.maxpagesize=3", **(headers or {})})
        assert body.status_code == 200, body.text
        body = body.json()
        items += body["value"]
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


# ------------------------------------------------------------------ all-day on the wire
@pytest.mark.parametrize("room", [NYC, ADL, BLR])
def test_all_day_events_are_floating_dates_with_and_without_prefer(room):
    zone = ZONES[room]
    tenant = _fresh()
    one = tenant.add_event(
        room,
        {
            "start": {"dateTime": "2026-11-16T00:00:00.0000000", "timeZone": zone},
            "end": {"dateTime": "2026-11-17T00:00:00.0000000", "timeZone": zone},
            "isAllDay": True,
        },
    )
    two = tenant.add_all_day(room, date(2026, 11, 18), days=2)
    window = (datetime(2026, 11, 14, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
    q = f"startDateTime={iso(window[0])}&endDateTime={iso(window[1])}"
    expected = {
        one: ("2026-11-16T00:00:00.0000000", "2026-11-17T00:00:00.0000000"),
        two: ("2026-11-18T00:00:00.0000000", "2026-11-20T00:00:00.0000000"),
    }
    truth = {e["id"]: e for e in tenant.calendar_view(room, *window)}
    with SimulatorServer(tenant) as server, _client() as client:
        view = f"{server.base_url}/users/{room}/calendarView?{q}"
        delta = f"{server.base_url}/users/{room}/calendarView/delta?{q}"
        for prefer, name in (
            (None, "UTC"),
            ('outlook.timezone="Eastern Standard Time"', "Eastern Standard Time"),
            ('outlook.timezone="Asia/Kolkata"', "Asia/Kolkata"),
            ('outlook.timezone="Cen. Australia Standard Time"', "Cen. Australia Standard Time"),
        ):
            headers = {"Prefer": prefer} if prefer else {}
            listed, _ = collect(client, view + "&$top=4", headers)
            changed, _ = _delta(client, delta, headers)
            sources = [listed, changed] + ([list(truth.values())] if name == "UTC" else [])
            for events in sources:
                by_id = {e["id"]: e for e in events}
                for eid, (start, end) in expected.items():
                    e = by_id[eid]
                    assert e["isAllDay"] is True
                    assert e["start"] == {"dateTime": start, "timeZone": name}, (prefer, e)
                    assert e["end"] == {"dateTime": end, "timeZone": name}, (prefer, e)
                # Every all-day event, generated ones too, is midnight to midnight.
                for e in events:
                    if e.get("isAllDay"):
                        assert e["start"]["dateTime"].endswith("T00:00:00.0000000")
                        assert e["end"]["dateTime"].endswith("T00:00:00.0000000")
                        assert e["start"]["timeZone"] == e["end"]["timeZone"] == name


def test_all_day_overlap_uses_the_rooms_dates_not_the_wire_dates():
    """Filtering uses the stored instants (issue 16798): an Adelaide all-day event on 16
    November occupies 2026-11-15T13:30Z to 2026-11-16T13:30Z, whatever the wire shows."""
    tenant = _fresh()
    eid = tenant.add_all_day(ADL, date(2026, 11, 16))

    def ids(start: str, end: str) -> set[str]:
        return {e["id"] for e in tenant.calendar_view(ADL, start, end)}

    assert eid in ids("2026-11-15T13:00:00Z", "2026-11-15T14:00:00Z")
    assert eid not in ids("2026-11-16T14:00:00Z", "2026-11-17T00:00:00Z")
    assert eid not in ids("2026-11-15T00:00:00Z", "2026-11-15T13:30:00Z")


def test_all_day_event_given_off_midnight_is_aligned_like_exchange():
    tenant = _fresh()
    eid = tenant.add_event(
        NYC,
        {
            "start": {"dateTime": "2026-11-16T13:00:00", "timeZone": "Eastern Standard Time"},
            "end": {"dateTime": "2026-11-17T09:00:00", "timeZone": "Eastern Standard Time"},
            "isAllDay": True,
        },
    )
    (e,) = [x for x in tenant.calendar_view(NYC, "2026-11-15", "2026-11-20") if x["id"] == eid]
    assert e["start"]["dateTime"] == "2026-11-16T00:00:00.0000000"
    assert e["end"]["dateTime"] == "2026-11-18T00:00:00.0000000"
    assert e["originalStartTimeZone"] == "Eastern Standard Time"


# ------------------------------------------------------------ windows inside blocks
def test_calendar_view_starting_inside_blocks_returns_them():
    tenant = _fresh()
    zone = ZONES[NYC]
    short = tenant.add_block(
        NYC, _local(date(2026, 10, 20), zone, 9), _local(date(2026, 10, 23), zone, 17)
    )
    long = tenant.add_block(
        NYC, _local(date(2026, 9, 20), zone, 8), _local(date(2026, 10, 29), zone, 18)
    )
    overnight = tenant.add_block(
        NYC, _local(date(2026, 10, 21), zone, 21), _local(date(2026, 10, 22), zone, 1)
    )
    window = (_local(date(2026, 10, 22), zone), _local(date(2026, 10, 24), zone))
    truth = tenant.calendar_view(NYC, *window)
    got = {e["id"] for e in truth}
    assert {short, long, overnight} <= got
    # Paged over HTTP, one event a page, the blocks come back once each, in the same order.
    with SimulatorServer(tenant) as server, _client() as client:
        q = f"startDateTime={iso(window[0])}&endDateTime={iso(window[1])}"
        listed, pages = collect(client, f"{server.base_url}/users/{NYC}/calendarView?{q}&$top=1")
    assert listed == truth and pages >= len(truth)
    assert [e["id"] for e in truth][0] == long  # ordered by start


def test_generated_multi_day_events_are_found_from_inside():
    """Every generated event longer than a day is returned by a one-hour window starting
    at any of its midpoints (days it spans), for every room."""
    tenant = SimulatedTenant(seed=42, rooms_per_building=3, today=TODAY)
    start = _local(TODAY - timedelta(days=30), "UTC")
    checked = 0
    for room in tenant.rooms:
        if not room.email or room.failure:
            continue
        for e in tenant.calendar_view(room.email, start, start + timedelta(days=60)):
            s, f = _span(e, room.timezone)
            if f - s <= timedelta(days=1):
                continue
            at = s + (f - s) / 2
            inside = tenant.calendar_view(room.email, at, at + timedelta(hours=1))
            assert e["id"] in {x["id"] for x in inside}, (room.email, e["subject"])
            checked += 1
    assert checked > 30


def test_delta_of_a_window_starting_inside_a_block():
    tenant = _fresh()
    zone = ZONES[BLR]
    block = tenant.add_block(
        BLR, _local(date(2026, 10, 1), zone, 9), _local(date(2026, 10, 4), zone, 17)
    )
    reno = tenant.add_all_day(BLR, date(2026, 9, 10), days=40)
    gone = tenant.add_block(
        BLR, _local(date(2026, 10, 2), zone, 21), _local(date(2026, 10, 3), zone, 2)
    )
    window = (_local(date(2026, 10, 3), zone), _local(date(2026, 10, 10), zone))
    q = f"startDateTime={iso(window[0])}&endDateTime={iso(window[1])}"
    with SimulatorServer(tenant) as server, _client() as client:
        items, link = _delta(client, f"{server.base_url}/users/{BLR}/calendarView/delta?{q}")
        by_id = {i["id"]: i for i in items}
        assert {block, reno, gone} <= set(by_id)
        assert by_id[reno]["start"] == {
            "dateTime": "2026-09-10T00:00:00.0000000",
            "timeZone": "UTC",
        }
        assert by_id[block]["end"]["dateTime"].startswith("2026-10-04T11:30:00")
        instances = [i["id"] for i in items if i["type"] != "seriesMaster"]
        assert instances == [e["id"] for e in tenant.calendar_view(BLR, *window)]
        # Changed and still overlapping: reported in full; moved out of the window: @removed.
        tenant.cancel_event(BLR, block)
        tenant.move_event(
            BLR, gone, _local(date(2026, 10, 20), zone, 21), _local(date(2026, 10, 21), zone, 2)
        )
        moved_in = tenant.add_block(
            BLR, _local(date(2026, 9, 28), zone, 9), _local(date(2026, 10, 5), zone, 12)
        )
        items, _ = _delta(client, link)
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {block, gone, moved_in}
    assert by_id[block]["isCancelled"] is True and "subject" in by_id[block]
    assert by_id[block]["start"]["dateTime"].startswith("2026-10-01T03:30:00")
    assert by_id[gone] == {
        "@odata.type": "#microsoft.graph.event",
        "id": gone,
        "@removed": {"reason": "deleted"},
    }
    assert by_id[moved_in]["start"]["dateTime"].startswith("2026-09-28T03:30:00")


def test_moving_blocks_across_days_and_windows():
    tenant = _fresh()
    zone = ZONES[ADL]
    first = (_local(date(2026, 10, 23), zone), _local(date(2026, 10, 30), zone))
    later = (_local(date(2026, 11, 10), zone), _local(date(2026, 11, 17), zone))
    block = tenant.add_block(
        ADL, _local(date(2026, 10, 20), zone, 9), _local(date(2026, 10, 24), zone, 17)
    )
    all_day = tenant.add_all_day(ADL, date(2026, 10, 27), days=2)
    # A generated long block moves too: the building's third room is under renovation
    # from a day in today-27..today-10, for 28-45 days.
    reno_room = "adl-room-003@contoso.example"
    reno = next(
        e
        for e in tenant.calendar_view(reno_room, *first)
        if e["subject"] == "Renovation" and e["type"] == "singleInstance"
    )
    ids = lambda room, w: {e["id"] for e in tenant.calendar_view(room, *w)}  # noqa: E731
    assert {block, all_day} <= ids(ADL, first) and reno["id"] in ids(reno_room, first)
    tenant.move_event(
        ADL, block, _local(date(2026, 11, 8), zone, 9), _local(date(2026, 11, 11), zone, 17)
    )
    tenant.move_event(
        ADL, all_day, _local(date(2026, 11, 12), zone, 10), _local(date(2026, 11, 13), zone, 15)
    )
    tenant.move_event(
        reno_room,
        reno["id"],
        _local(date(2026, 11, 1), zone, 8),
        _local(date(2026, 12, 10), zone, 18),
    )
    assert not {block, all_day} & ids(ADL, first) and reno["id"] not in ids(reno_room, first)
    assert {block, all_day} <= ids(ADL, later) and reno["id"] in ids(reno_room, later)
    moved = {e["id"]: e for e in tenant.calendar_view(ADL, *later)}
    # An all-day event stays midnight-aligned in its own zone when moved (Exchange rule).
    assert moved[all_day]["start"]["dateTime"] == "2026-11-12T00:00:00.0000000"
    assert moved[all_day]["end"]["dateTime"] == "2026-11-14T00:00:00.0000000"


# ------------------------------------------------------------------------ generator
def _sync_window(room_zone: str, today: date) -> tuple[datetime, datetime]:
    """roomcal's rolling window: local dates [today-7, today+28)."""
    return _local(today - timedelta(days=7), room_zone), _local(
        today + timedelta(days=28), room_zone
    )


@pytest.mark.parametrize(
    "today",
    [
        date(2026, 1, 15),
        date(2026, 3, 29),  # Europe changes to summer time
        date(2026, 7, 1),
        date(2026, 10, 4),  # Adelaide changes to summer time
        date(2026, 11, 2),
        date(2027, 2, 28),
        date.today(),
    ],
)
def test_ordinary_tenant_has_every_kind_of_spanning_event(today):
    tenant = SimulatedTenant(seed=42, rooms_per_building=3, today=today)
    per_building: dict[str, dict[str, int]] = {}
    for room in tenant.rooms:
        if not room.email or room.failure or not room.in_registry:
            continue
        ws, we = _sync_window(room.timezone, today)
        kinds = dict.fromkeys(("night", "multiday", "multiweek", "straddle", "allday"), 0)
        for e in tenant.calendar_view(room.email, ws, we):
            s, f = _span(e, room.timezone)
            days = (f.date() - s.date()).days
            if e["isAllDay"]:
                kinds["allday"] += 1
            elif days == 1 and f.time() != time() and f - s < timedelta(hours=12):
                kinds["night"] += 1
            elif 2 <= days + 1 <= 4 and f - s >= timedelta(days=1):
                kinds["multiday"] += 1
            if f - s >= timedelta(days=28):
                kinds["multiweek"] += 1
            if s < ws < f and f - s > timedelta(days=1):
                kinds["straddle"] += 1
        # Every room meets overnight bookings and multi-day blocks in every sync window.
        assert kinds["night"] >= 3 and kinds["multiday"] >= 1, (room.email, kinds)
        totals = per_building.setdefault(room.building, dict.fromkeys(kinds, 0))
        for k, v in kinds.items():
            totals[k] += v
    assert len(per_building) == 4
    for building, totals in per_building.items():
        assert all(totals.values()), (building, totals)


def test_per_day_kinds_stay_within_the_scan_back():
    tenant = SimulatedTenant(seed=42, rooms_per_building=3, today=TODAY)
    for room in tenant.rooms[:12]:
        zone = tenant.zone(room)
        for n in range(-40, 40):
            for e in tenant.generator.generate_day(room, TODAY + timedelta(days=n)):
                assert not is_long(e, zone), e["subject"]


def test_same_seed_same_calendars_everywhere():
    start, end = (
        _local(TODAY - timedelta(days=60), "UTC"),
        _local(TODAY + timedelta(days=40), "UTC"),
    )
    a, b, c = (SimulatedTenant(seed=s, rooms_per_building=3, today=TODAY) for s in (42, 42, 43))
    emails = [r.email for r in a.rooms if r.email and r.failure is None]
    first = {m: a.calendar_view(m, start, end) for m in emails}
    assert first == {m: b.calendar_view(m, start, end) for m in emails}
    assert first != {m: c.calendar_view(m, start, end) for m in emails}
    # Laziness: the same day asked twice, or alone, is the same.
    room = a.room(emails[5])
    day = a.generator.day(room, TODAY)  # type: ignore[arg-type]
    assert day == b.generator.day(room, TODAY)  # type: ignore[arg-type]
    assert not a.store.rooms and not b.store.rooms


def test_canaries_in_every_new_kind():
    tenant = _fresh(canaries=True)
    added = tenant.add_all_day(NYC, date(2026, 10, 8), days=2)
    start, end = (
        _local(TODAY - timedelta(days=40), "UTC"),
        _local(TODAY + timedelta(days=20), "UTC"),
    )
    seen = set()
    for room in tenant.rooms:
        if not room.email or room.failure:
            continue
        for e in tenant.calendar_view(room.email, start, end):
            s, f = _span(e, room.timezone)
            kind = (
                "allday"
                if e["isAllDay"]
                else "long"
                if f - s >= timedelta(days=5)
                else "multiday"
                if f - s > timedelta(hours=12)
                else "night"
                if f.date() != s.date()
                else None
            )
            if kind is None:
                continue
            seen.add(kind)
            assert CANARY_PREFIX not in orjson.dumps(_allowlisted(e)).decode()
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
                e["zzCanaryProperty"],
            ]
            sensitive += [a["status"]["time"] for a in e["attendees"]]
            sensitive += [loc["address"]["street"] for loc in e["locations"]]
            assert all(x.startswith(CANARY_PREFIX) for x in sensitive), (kind, e["id"])
            seen.add(e["id"] == added and "added")
    assert {"allday", "long", "multiday", "night", "added"} <= seen


def test_materialized_room_serves_the_same_calendar():
    """A room's first mutation moves it into the change store; its view must not change."""
    tenant = SimulatedTenant(seed=42, rooms_per_building=3, today=TODAY)
    for email in ("lon-room-002@contoso.example", "adl-room-003@contoso.example"):
        windows = [
            (_local(TODAY + timedelta(days=d), "UTC"), _local(TODAY + timedelta(days=d + n), "UTC"))
            for d, n in ((-130, 20), (-40, 35), (-9, 1), (-7, 35), (0, 1), (20, 50))
        ]
        before = [tenant.calendar_view(email, *w) for w in windows]
        some = next(e for e in before[3] if e["type"] == "singleInstance")
        tenant.cancel_event(email, some["id"])
        after = [tenant.calendar_view(email, *w) for w in windows]
        for b, a in zip(before, after, strict=True):
            assert [e["id"] for e in b] == [e["id"] for e in a]
    assert len(tenant.store.rooms) == 2
