{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['organizer_group', 'room_email', 'booking_date'],
        on_schema_change='append_new_columns',
        pre_hook="{{ roomcal_delete_window('booking_date') }}",
        tags=['partitioned', 'daily'],
    )
}}

-- Bookings per organizer group, room and local date (a booking counts on every covered local
-- day it overlaps); booked_minutes sums each booking's minutes inside that day's business window.
select
    organizer_group,
    room_email,
    booking_date,
    count(*) as bookings,
    sum(minutes_in_window) as booked_minutes
from {{ ref('int_booking_days') }}
where
    {{ roomcal_date_in_window('booking_date') }}
    and {{ roomcal_utc_prefilter('start_at', 'end_at') }}
group by organizer_group, room_email, booking_date
