with source as (

    select * from {{ source('raw', 'room_events') }}

)

select
    lower(room_email) as room_email,
    event_id,
    ical_uid,
    nullif(series_master_id, '') as series_master_id,
    event_type,
    start_at::timestamptz as start_at,
    end_at::timestamptz as end_at,
    start_timezone,
    end_timezone,
    coalesce(is_all_day, false) as is_all_day,
    created_at::timestamptz as created_at,
    last_modified_at::timestamptz as last_modified_at,
    organizer_name,
    lower(nullif(trim(organizer_address), '')) as organizer_address,
    case
        when jsonb_typeof(attendees) = 'array' then attendees else '[]'::jsonb
    end as attendees,
    location,
    locations,
    recurrence,
    sensitivity,
    coalesce(is_cancelled, false) as is_cancelled,
    show_as,
    online_meeting_provider,
    coalesce(is_online_meeting, false) as is_online_meeting,
    extracted_at
from source
