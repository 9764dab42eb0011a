"""The reference metrics (the integration tests' oracle) on hand-made events with hand-worked values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.integration.reference_metrics import compute_marts, local_instant, union_minutes


def _room(email, tz, open_minute=540, close_minute=1020, days="1,2,3,4,5", name=None):
    return {
        "room_key": email.lower() if email else f"noemail:{name}",
        "room_email": email,
        "room_name": name or email,
        "building": "B",
        "floor": "1",
        "capacity": 8,
        "timezone": tz,
        "business_open_minute": open_minute,
        "business_close_minute": close_minute,
        "business_days": days,
    }


def _event(
    event_id, start, end, tz, created="2026-01-01T00:00:00Z", organizer="alice@corp.com", **extra
):
    event = {
        "id": event_id,
        "type": "singleInstance",
        "start": {"dateTime": start, "timeZone": tz},
        "end": {"dateTime": end, "timeZone": tz},
        "createdDateTime": created,
        "isCancelled": False,
        "showAs": "busy",
        "organizer": {"emailAddress": {"name": "O", "address": organizer}},
        "attendees": [],
        "sensitivity": "normal",
    }
    event.update(extra)
    return event


def _by(rows, *keys):
    return {tuple(r[k] for k in keys): r for r in rows}


def test_overlap_merge_and_clipping_in_a_half_hour_zone():
    # Kolkata is UTC+05:30. Window 09:00-18:00 local = 03:30Z-12:30Z, 540 minutes.
    room = _room("K@x.com", "Asia/Kolkata", 540, 1080)
    events = [
        _event(
            "a", "2026-03-02T08:30:00.0000000", "2026-03-02T10:00:00.0000000", "India Standard Time"
        ),
        _event("b", "2026-03-02T09:30:00.0000000", "2026-03-02T11:00:00.0000000", "Asia/Kolkata"),
        # 11:30Z-13:00Z = 17:00-18:30 local: 60 minutes inside the window.
        _event("c", "2026-03-02T11:30:00.0000000", "2026-03-02T13:00:00.0000000", "UTC"),
    ]
    marts = compute_marts(
        [room], {"k@x.com": events}, {"alice@corp.com": "Sales"}, date(2026, 3, 2), date(2026, 3, 4)
    )
    daily = _by(marts["room_booking_rate_daily"], "booking_date")
    # a and b merge to 09:00-11:00 (a clipped at 09:00): 120; c: 60. Union 180 of 540.
    assert daily[(date(2026, 3, 2),)]["business_minutes"] == 540
    assert daily[(date(2026, 3, 2),)]["booked_minutes"] == pytest.approx(180)
    assert daily[(date(2026, 3, 2),)]["booking_rate"] == pytest.approx(1 / 3)
    # A business day without bookings is present with rate 0.
    assert daily[(date(2026, 3, 3),)]["booked_minutes"] == 0
    assert daily[(date(2026, 3, 3),)]["booking_rate"] == 0
    # Per-booking minutes are summed in the usage mart: 60 + 90 + 60.
    (usage,) = marts["organizer_group_usage"]
    assert (usage["organizer_group"], usage["bookings"]) == ("Sales", 3)
    assert usage["booked_minutes"] == pytest.approx(210)
    fct = _by(marts["fct_room_bookings"], "event_id")
    assert fct[("a",)]["start_at"] == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert fct[("a",)]["room_email"] == "k@x.com"


def test_dst_change_day_and_all_day_event():
    # New York springs forward on Sunday 2026-03-08: a 00:00-24:00 window is 23 hours long.
    room = _room("ny@x.com", "America/New_York", 0, 1440, "1,2,3,4,5,6,7")
    events = [
        _event(
            "allday",
            "2026-03-08T00:00:00.0000000",
            "2026-03-09T00:00:00.0000000",
            "Eastern Standard Time",
            isAllDay=True,
        ),
        # 22:00 EST Saturday to 01:00 EST Sunday: 120 minutes Saturday, 60 minutes Sunday.
        _event("late", "2026-03-08T03:00:00.0000000", "2026-03-08T06:00:00.0000000", "UTC"),
    ]
    marts = compute_marts([room], {"ny@x.com": events}, {}, date(2026, 3, 7), date(2026, 3, 10))
    daily = _by(marts["room_booking_rate_daily"], "booking_date")
    assert daily[(date(2026, 3, 7),)]["business_minutes"] == 1440
    assert daily[(date(2026, 3, 7),)]["booked_minutes"] == pytest.approx(120)
    assert daily[(date(2026, 3, 8),)]["business_minutes"] == 1380
    assert daily[(date(2026, 3, 8),)]["booked_minutes"] == pytest.approx(1380)
    assert daily[(date(2026, 3, 8),)]["booking_rate"] == pytest.approx(1.0)
    assert daily[(date(2026, 3, 9),)]["booked_minutes"] == 0  # the all-day event ends at midnight
    adhoc = _by(marts["adhoc_vs_planned"], "booking_date")
    assert adhoc[(date(2026, 3, 7),)]["planned_bookings"] == 1
    assert adhoc[(date(2026, 3, 8),)]["planned_bookings"] == 2  # "late" counts on both days
    assert adhoc[(date(2026, 3, 8),)]["planned_minutes"] == pytest.approx(1380 + 60)
    # Organizer not in the directory: the email domain.
    assert {r["organizer_group"] for r in marts["fct_room_bookings"]} == {"corp.com"}


def test_local_instant_resolves_gaps_and_folds_like_postgresql():
    ny = ZoneInfo("America/New_York")
    assert local_instant(date(2026, 3, 8), 150, ny) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert local_instant(date(2026, 11, 1), 90, ny) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_ad_hoc_boundary_exactly_at_the_threshold():
    room = _room("a@x.com", "UTC")
    events = [
        _event(
            "at",
            "2026-03-02T10:00:00",
            "2026-03-02T11:00:00",
            "UTC",
            created="2026-03-02T09:30:00Z",
        ),
        _event(
            "over",
            "2026-03-02T12:00:00",
            "2026-03-02T13:00:00",
            "UTC",
            created="2026-03-02T11:29:59Z",
        ),
        _event(
            "after",
            "2026-03-02T14:00:00",
            "2026-03-02T15:00:00",
            "UTC",
            created="2026-03-02T14:05:00Z",
        ),
    ]
    marts = compute_marts([room], {"a@x.com": events}, {}, date(2026, 3, 2), date(2026, 3, 3))
    fct = _by(marts["fct_room_bookings"], "event_id")
    assert fct[("at",)]["lead_time_minutes"] == 30
    assert fct[("at",)]["booking_type"] == "ad_hoc"
    assert fct[("over",)]["booking_type"] == "planned"
    assert fct[("after",)]["lead_time_minutes"] == -5
    assert fct[("after",)]["booking_type"] == "ad_hoc"
    (row,) = marts["adhoc_vs_planned"]
    assert (row["ad_hoc_bookings"], row["planned_bookings"]) == (2, 1)
    assert (row["ad_hoc_minutes"], row["planned_minutes"]) == (120, 60)
    lower = compute_marts(
        [room],
        {"a@x.com": events},
        {},
        date(2026, 3, 2),
        date(2026, 3, 3),
        adhoc_max_lead_minutes=10,
    )
    assert _by(lower["fct_room_bookings"], "event_id")[("at",)]["booking_type"] == "planned"


def test_exclusions_groups_attendees_recurrence_and_status():
    rooms = [_room("a@x.com", "UTC"), _room(None, "UTC", name="Hall"), _room("bad@x.com", "UTC")]
    attendees = [
        {"type": "required", "emailAddress": {"address": "Alice@Corp.com"}},
        {"type": "optional", "emailAddress": {"address": "z@corp.com"}},
        {"type": "resource", "emailAddress": {"address": "a@x.com"}},
    ]
    events = [
        _event("one", "2026-03-02T09:00:00", "2026-03-02T10:00:00", "UTC", attendees=attendees),
        _event(
            "occ1",
            "2026-03-02T10:00:00",
            "2026-03-02T11:00:00",
            "UTC",
            type="occurrence",
            seriesMasterId="s1",
            organizer="bob@corp.com",
        ),
        _event(
            "occ2",
            "2026-03-03T10:00:00",
            "2026-03-03T11:00:00",
            "UTC",
            type="exception",
            seriesMasterId="s1",
            organizer="eve@ext.com",
        ),
        _event(
            "forbidden",
            "2026-03-03T12:00:00",
            "2026-03-03T13:00:00",
            "UTC",
            organizer="carl@corp.com",
        ),
        _event("cancelled", "2026-03-02T12:00:00", "2026-03-02T13:00:00", "UTC", isCancelled=True),
        _event("free", "2026-03-02T12:00:00", "2026-03-02T13:00:00", "UTC", showAs="free"),
        _event("master", "2026-03-02T12:00:00", "2026-03-02T13:00:00", "UTC", type="seriesMaster"),
    ]
    directory = {
        "alice@corp.com": "Sales",
        "bob@corp.com": None,
        "eve@ext.com": "NOT_FOUND",
        "carl@corp.com": "FORBIDDEN",
    }
    marts = compute_marts(
        rooms,
        {"a@x.com": events},
        directory,
        date(2026, 3, 2),
        date(2026, 3, 9),
        failures={"bad@x.com": "mailbox_not_found"},
    )
    fct = _by(marts["fct_room_bookings"], "event_id")
    assert set(fct) == {("one",), ("occ1",), ("occ2",), ("forbidden",)}
    assert fct[("one",)]["attendee_count"] == 2  # Alice is the organizer; the room is a resource
    assert fct[("occ1",)]["attendee_count"] == 1  # the organizer alone
    groups = {k[0]: v["organizer_group"] for k, v in fct.items()}
    assert groups == {
        "one": "Sales",
        "occ1": "unassigned",
        "occ2": "external",
        "forbidden": "corp.com",
    }
    assert fct[("occ2",)]["is_recurring"] and not fct[("one",)]["is_recurring"]
    (week,) = marts["recurrence_summary"]
    assert week["week_start"] == date(2026, 3, 2)
    assert (week["recurring_bookings"], week["single_bookings"], week["active_series"]) == (2, 2, 1)
    assert (week["recurring_minutes"], week["single_minutes"]) == (120, 120)
    # The rate rows cover every business day of the range (Mon-Fri), nothing on the weekend.
    assert [r["booking_date"].day for r in marts["room_booking_rate_daily"]] == [2, 3, 4, 5, 6]
    status = _by(marts["room_sync_status"], "room_key")
    assert status[("a@x.com",)]["status"] == "synced"
    assert status[("noemail:Hall",)]["reason"] == "no_email"
    assert status[("bad@x.com",)]["reason"] == "mailbox_not_found"
    assert len(marts["dim_rooms"]) == 3


def test_popularity_rank_ties():
    # a: 09:00-17:00 (480 minutes); b: 08:00-24:00 (960 minutes); c: 09:00-17:00.
    rooms = [_room("a@x.com", "UTC"), _room("b@x.com", "UTC", 480, 1440), _room("c@x.com", "UTC")]
    ev = {
        "a@x.com": [_event("a1", "2026-03-02T09:00:00", "2026-03-02T13:00:00", "UTC")],  # 240/480
        "b@x.com": [_event("b1", "2026-03-02T09:00:00", "2026-03-02T17:00:00", "UTC")],  # 480/960
        "c@x.com": [],
    }
    marts = compute_marts(rooms, ev, {}, date(2026, 3, 2), date(2026, 3, 3))
    # a and b tie at rate 0.5; b has more booked minutes.
    ranks = {r["room_email"]: r["popularity_rank"] for r in marts["room_popularity_weekly"]}
    assert ranks == {"b@x.com": 1, "a@x.com": 2, "c@x.com": 3}


def test_union_minutes():
    t = lambda h, m=0: datetime(2026, 1, 1, h, m, tzinfo=UTC)  # noqa: E731
    assert (
        union_minutes(
            [
                (t(9), t(10)),
                (t(9, 30), t(11)),
                (t(9, 45), t(10, 15)),
                (t(11), t(11, 30)),
                (t(13), t(14)),
            ]
        )
        == 210
    )
    assert union_minutes([]) == 0
