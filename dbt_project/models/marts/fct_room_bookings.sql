{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['room_email', 'event_id'],
        on_schema_change='append_new_columns',
        pre_hook="{{ roomcal_delete_span_window('booking_date', 'last_booking_date') }}",
        tags=['partitioned', 'daily'],
        indexes=[
            {'columns': ['room_email', 'event_id'], 'unique': true},
            {'columns': ['booking_date']},
        ],
    )
}}

-- One booking on one room calendar that overlaps at least one local date covered by a synced
-- result of the room, wherever it starts. A booking that spans days belongs to every window it
-- overlaps: a build of the dates [min_date, max_date) deletes the rows whose
-- [booking_date, last_booking_date] overlaps them (pre_hook) and inserts the same set again.
with spanned as (

    -- Bookings with a covered date, with their minutes over all their covered dates.
    select
        room_email,
        event_id,
        sum(minutes_in_window) as booked_minutes_in_window
    from {{ ref('int_booking_days') }}
    where {{ roomcal_utc_prefilter('start_at', 'end_at') }}
    group by room_email, event_id

)

select
    bookings.room_email,
    bookings.event_id,
    bookings.booking_date,
    bookings.last_local_date as last_booking_date,
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
    spanned.booked_minutes_in_window
from {{ ref('int_bookings') }} as bookings
inner join spanned
    on
        bookings.room_email = spanned.room_email
        and bookings.event_id = spanned.event_id
where
    {{ roomcal_span_in_window('bookings.booking_date', 'bookings.last_local_date') }}
    and {{ roomcal_utc_prefilter('bookings.start_at', 'bookings.end_at') }}
