with source as (

    select * from {{ source('raw', 'room_sync_results') }}

)

select
    run_id,
    room_key,
    lower(nullif(trim(room_email), '')) as room_email,
    room_name,
    window_start_date::date as window_start_date,
    window_end_date::date as window_end_date,
    status,
    reason,
    detail,
    events_loaded,
    events_quarantined,
    requests,
    retries,
    throttled_responses,
    throttle_wait_seconds,
    started_at,
    finished_at
from source
