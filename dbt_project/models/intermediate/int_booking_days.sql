-- One row per booking and covered local date of its room that the booking overlaps (a booking
-- across midnight, or an all-day event, is on every local day it overlaps; a zero-length booking
-- is on its start date), with its interval clipped to that day's business window.
with bookings as (

    select * from {{ ref('int_bookings') }}

),

calendar as (

    select * from {{ ref('int_room_calendar_days') }}

),

clipped as (

    select
        bookings.room_email,
        bookings.event_id,
        calendar.local_date as booking_date,
        calendar.week_start,
        bookings.booking_date as start_date,
        calendar.is_business_day,
        bookings.start_at,
        bookings.end_at,
        bookings.booking_type,
        bookings.is_recurring,
        bookings.series_id,
        bookings.organizer_group,
        case
            when
                calendar.is_business_day
                and bookings.end_at > bookings.start_at
                and bookings.start_at < calendar.window_end_at
                and bookings.end_at > calendar.window_start_at
                then greatest(bookings.start_at, calendar.window_start_at)
        end as clipped_start_at,
        case
            when
                calendar.is_business_day
                and bookings.end_at > bookings.start_at
                and bookings.start_at < calendar.window_end_at
                and bookings.end_at > calendar.window_start_at
                then least(bookings.end_at, calendar.window_end_at)
        end as clipped_end_at
    from bookings
    -- The covered days of the room from the booking's first to its last local date, as a range
    -- join: a generate_series per booking is estimated at 1,000 rows, which leads PostgreSQL to
    -- join the calendar first and expand a series for every booking and calendar day.
    inner join calendar
        on
            bookings.room_email = calendar.room_email
            and calendar.local_date between bookings.booking_date and bookings.last_local_date

)

select
    *,
    coalesce({{ roomcal_minutes('clipped_end_at - clipped_start_at') }}, 0) as minutes_in_window
from clipped
