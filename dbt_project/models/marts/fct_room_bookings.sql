{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['room_email', 'event_id'],
        on_schema_change='append_new_columns',
        pre_hook="{{ roomcal_delete_window('booking_date') }}",
        tags=['partitioned', 'daily'],
        indexes=[
            {'columns': ['room_email', 'event_id'], 'unique': true},
            {'columns': ['booking_date']},
        ],
    )
}}

-- One booking on one room calendar, on a local date covered by a synced result of the room.
-- booking_date (the local date of the start) is the partition key.
with in_window as (

    select
        room_email,
        event_id,
        sum(minutes_in_window) as booked_minutes_in_window
    from {{ ref('int_booking_days') }}
    where
        {{ roomcal_date_in_window('start_date') }}
        and {{ roomcal_utc_prefilter('start_at', 'end_at') }}
    group by room_email, event_id

)

select
    bookings.room_email,
    bookings.event_id,
    bookings.booking_date,
    bookings.start_at,
    bookings.end_at,
    bookings.created_at,
    bookings.lead_time_minutes,
    bookings.booking_type,
    bookings.is_recurring,
    bookings.series_id,
    bookings.organizer_group,
    bookings.attendee_count,
    bookings.is_online_meeting,
    bookings.sensitivity,
    bookings.room_key,
    bookings.timezone,
    bookings.event_type,
    bookings.is_all_day,
    bookings.show_as,
    bookings.online_meeting_provider,
    bookings.duration_minutes,
    coalesce(in_window.booked_minutes_in_window, 0) as booked_minutes_in_window
from {{ ref('int_bookings') }} as bookings
inner join {{ ref('int_room_calendar_days') }} as calendar
    on
        bookings.room_email = calendar.room_email
        and bookings.booking_date = calendar.local_date
left join in_window
    on
        bookings.room_email = in_window.room_email
        and bookings.event_id = in_window.event_id
where {{ roomcal_date_in_window('bookings.booking_date') }}
