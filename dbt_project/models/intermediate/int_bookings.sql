-- Bookings (docs/metrics.md): room events that are not cancelled, not shown as free, and not series
-- masters; with the room's time zone, local dates, lead time, type, recurrence, organizer group
-- and attendee count.
with events as (

    select * from {{ ref('stg_graph__room_events') }}

),

rooms as (

    select * from {{ ref('stg_graph__rooms') }}

),

directory as (

    select * from {{ ref('int_organizer_directory') }}

),

bookings as (

    select
        events.*,
        rooms.room_key,
        rooms.timezone
    from events
    inner join rooms on events.room_email = rooms.room_email
    where
        not events.is_cancelled
        and lower(coalesce(events.show_as, '')) <> 'free'
        and lower(coalesce(events.event_type, '')) <> 'seriesmaster'

)

select
    bookings.room_email,
    bookings.event_id,
    bookings.room_key,
    bookings.timezone,
    bookings.start_at,
    bookings.end_at,
    bookings.created_at,
    bookings.is_all_day,
    bookings.event_type,
    bookings.series_master_id as series_id,
    bookings.organizer_address,
    bookings.sensitivity,
    bookings.show_as,
    bookings.is_online_meeting,
    bookings.online_meeting_provider,
    (bookings.start_at at time zone bookings.timezone)::date as booking_date,
    case
        when bookings.end_at > bookings.start_at
            then ((bookings.end_at at time zone bookings.timezone) - interval '1 microsecond')::date
        else (bookings.start_at at time zone bookings.timezone)::date
    end as last_local_date,
    {{ roomcal_minutes("greatest(bookings.end_at - bookings.start_at, interval '0')") }}
        as duration_minutes,
    {{ roomcal_minutes('bookings.start_at - bookings.created_at') }} as lead_time_minutes,
    case
        when {{ roomcal_minutes('bookings.start_at - bookings.created_at') }}
            <= {{ roomcal_adhoc_max_lead_minutes() }}
            then 'ad_hoc'
        else 'planned'
    end as booking_type,
    (
        lower(coalesce(bookings.event_type, '')) in ('occurrence', 'exception')
        or bookings.series_master_id is not null
    ) as is_recurring,
    case
        when directory.lookup_status = 'found' then coalesce(directory.department, 'unassigned')
        when directory.lookup_status = 'not_found' then 'external'
        else coalesce(nullif(split_part(bookings.organizer_address, '@', 2), ''), 'unknown')
    end as organizer_group,
    (
        select count(*)
        from jsonb_array_elements(bookings.attendees) as attendee (value)
        where lower(coalesce(attendee.value ->> 'type', '')) <> 'resource'
    )
    + case
        when bookings.organizer_address is not null and not exists (
                select 1
                from jsonb_array_elements(bookings.attendees) as attendee (value)
                where
                    lower(coalesce(attendee.value ->> 'type', '')) <> 'resource'
                    and lower(trim(attendee.value ->> 'address')) = bookings.organizer_address
            ) then 1
        else 0
    end as attendee_count
from bookings
left join directory on bookings.organizer_address = directory.organizer_address
