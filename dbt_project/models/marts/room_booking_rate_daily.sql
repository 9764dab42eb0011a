{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['room_email', 'booking_date'],
        on_schema_change='append_new_columns',
        pre_hook="{{ roomcal_delete_window('booking_date') }}",
        tags=['partitioned', 'daily'],
        indexes=[{'columns': ['room_email', 'booking_date'], 'unique': true}],
    )
}}

-- Every synced room on every local business day of the window, including days without bookings.
with calendar as (

    select * from {{ ref('int_room_calendar_days') }}
    where is_business_day and {{ roomcal_date_in_window('local_date') }}

),

booked as (

    select
        room_email,
        booking_date,
        sum(interval_minutes) as booked_minutes
    from (
        {{ roomcal_merged_intervals(
            ref('int_booking_days'),
            roomcal_date_in_window('booking_date')
            ~ ' and ' ~ roomcal_utc_prefilter('start_at', 'end_at')
        ) }}
    ) as merged
    group by room_email, booking_date

),

bookings as (

    select
        room_email,
        booking_date,
        count(*) as bookings
    from {{ ref('int_booking_days') }}
    where
        minutes_in_window > 0
        and {{ roomcal_date_in_window('booking_date') }}
        and {{ roomcal_utc_prefilter('start_at', 'end_at') }}
    group by room_email, booking_date

)

select
    calendar.room_email,
    calendar.local_date as booking_date,
    calendar.business_minutes,
    coalesce(booked.booked_minutes, 0) as booked_minutes,
    coalesce(booked.booked_minutes, 0) / calendar.business_minutes as booking_rate,
    coalesce(bookings.bookings, 0) as bookings,
    calendar.week_start,
    calendar.window_start_at,
    calendar.window_end_at
from calendar
left join booked
    on
        calendar.room_email = booked.room_email
        and calendar.local_date = booked.booking_date
left join bookings
    on
        calendar.room_email = bookings.room_email
        and calendar.local_date = bookings.booking_date
