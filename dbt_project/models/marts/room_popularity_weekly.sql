{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['room_email', 'week_start'],
        on_schema_change='append_new_columns',
        pre_hook="{{ roomcal_delete_window('week_start', grain='week') }}",
        tags=['partitioned', 'weekly'],
    )
}}

-- Rooms ranked per ISO week by booking rate over the week's business days (rank 1 = most booked;
-- ties by booked minutes, then email). Whole weeks touched by the window are recomputed.
with business_days as (

    select
        room_email,
        week_start,
        sum(business_minutes) as business_minutes
    from {{ ref('int_room_calendar_days') }}
    where is_business_day and {{ roomcal_week_in_window('week_start') }}
    group by room_email, week_start

),

booked as (

    select
        room_email,
        (date_trunc('week', booking_date))::date as week_start,
        sum(interval_minutes) as booked_minutes
    from (
        {{ roomcal_merged_intervals(
            ref('int_booking_days'),
            roomcal_week_in_window('week_start')
            ~ ' and ' ~ roomcal_utc_prefilter('start_at', 'end_at', grain='week')
        ) }}
    ) as merged
    group by room_email, (date_trunc('week', booking_date))::date

),

bookings as (

    select
        room_email,
        week_start,
        count(distinct event_id) as bookings
    from {{ ref('int_booking_days') }}
    where
        {{ roomcal_week_in_window('week_start') }}
        and {{ roomcal_utc_prefilter('start_at', 'end_at', grain='week') }}
    group by room_email, week_start

),

weekly as (

    select
        business_days.room_email,
        business_days.week_start,
        business_days.business_minutes,
        coalesce(booked.booked_minutes, 0) as booked_minutes,
        coalesce(booked.booked_minutes, 0) / business_days.business_minutes as booking_rate,
        coalesce(bookings.bookings, 0) as bookings
    from business_days
    left join booked
        on
            business_days.room_email = booked.room_email
            and business_days.week_start = booked.week_start
    left join bookings
        on
            business_days.room_email = bookings.room_email
            and business_days.week_start = bookings.week_start

)

select
    room_email,
    week_start,
    booking_rate,
    bookings,
    row_number() over (
        partition by week_start
        order by booking_rate desc, booked_minutes desc, room_email asc
    ) as popularity_rank,
    booked_minutes,
    business_minutes
from weekly
