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

-- Recurring versus single bookings per room and ISO week (Monday, local dates). Whole weeks
-- touched by the window are recomputed from every covered day of those weeks.
select
    room_email,
    week_start,
    count(distinct event_id) filter (where is_recurring) as recurring_bookings,
    count(distinct event_id) filter (where not is_recurring) as single_bookings,
    coalesce(sum(minutes_in_window) filter (where is_recurring), 0) as recurring_minutes,
    coalesce(sum(minutes_in_window) filter (where not is_recurring), 0) as single_minutes,
    count(distinct series_id) filter (where is_recurring) as active_series
from {{ ref('int_booking_days') }}
where
    {{ roomcal_week_in_window('week_start') }}
    and {{ roomcal_utc_prefilter('start_at', 'end_at', grain='week') }}
group by room_email, week_start
