-- One row per booking and covered local date of its room that the booking overlaps (a booking
-- across midnight, or an all-day event, is on every local day it overlaps; a zero-length booking
-- is on its start date), with its interval clipped to that day's business window.
with bookings as (

    select * from {{ ref('int_bookings') }}

),

calendar as (

    select * from {{ ref('int_room_calendar_days') }}

),

booking_dates as (

    select
        bookings.*,
        overlapped.local_day::date as local_date
    from bookings
    cross join lateral generate_series(
        bookings.booking_date::timestamp,
        bookings.last_local_date::timestamp,
        interval '1 day'
    ) as overlapped (local_day)

),

clipped as (

    select
        booking_dates.room_email,
        booking_dates.event_id,
        booking_dates.local_date as booking_date,
        calendar.week_start,
        booking_dates.booking_date as start_date,
        calendar.is_business_day,
        booking_dates.start_at,
        booking_dates.end_at,
        booking_dates.booking_type,
        booking_dates.is_recurring,
        booking_dates.series_id,
        booking_dates.organizer_group,
        case
            when
                calendar.is_business_day
                and booking_dates.end_at > booking_dates.start_at
                and booking_dates.start_at < calendar.window_end_at
                and booking_dates.end_at > calendar.window_start_at
                then greatest(booking_dates.start_at, calendar.window_start_at)
        end as clipped_start_at,
        case
            when
                calendar.is_business_day
                and booking_dates.end_at > booking_dates.start_at
                and booking_dates.start_at < calendar.window_end_at
                and booking_dates.end_at > calendar.window_start_at
                then least(booking_dates.end_at, calendar.window_end_at)
        end as clipped_end_at
    from booking_dates
    inner join calendar
        on
            booking_dates.room_email = calendar.room_email
            and booking_dates.local_date = calendar.local_date

)

select
    *,
    coalesce({{ roomcal_minutes('clipped_end_at - clipped_start_at') }}, 0) as minutes_in_window
from clipped
