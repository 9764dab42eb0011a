{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['room_email', 'booking_date'],
        on_schema_change='append_new_columns',
        pre_hook="{{ roomcal_delete_window('booking_date') }}",
        tags=['partitioned', 'daily'],
    )
}}

-- Ad hoc versus planned bookings per room and local date (a booking counts on every covered
-- local day it overlaps; minutes are inside that day's business window).
select
    room_email,
    booking_date,
    count(*) filter (where booking_type = 'ad_hoc') as ad_hoc_bookings,
    count(*) filter (where booking_type = 'planned') as planned_bookings,
    coalesce(sum(minutes_in_window) filter (where booking_type = 'ad_hoc'), 0) as ad_hoc_minutes,
    coalesce(sum(minutes_in_window) filter (where booking_type = 'planned'), 0) as planned_minutes
from {{ ref('int_booking_days') }}
where
    {{ roomcal_date_in_window('booking_date') }}
    and {{ roomcal_utc_prefilter('start_at', 'end_at') }}
group by room_email, booking_date
