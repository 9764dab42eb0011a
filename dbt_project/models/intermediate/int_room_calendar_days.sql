-- Every (room, local date) covered by at least one `synced` sync result (window end exclusive),
-- with the room's business window on that date (null on non-business days).
with synced_windows as (

    select distinct
        room_key,
        window_start_date,
        window_end_date
    from {{ ref('stg_graph__room_sync_results') }}
    where status = 'synced' and window_end_date > window_start_date

),

covered_dates as (

    select distinct
        synced_windows.room_key,
        covered.local_day::date as local_date
    from synced_windows
    cross join lateral generate_series(
        synced_windows.window_start_date::timestamp,
        (synced_windows.window_end_date - 1)::timestamp,
        interval '1 day'
    ) as covered (local_day)

),

days as (

    select
        rooms.room_key,
        rooms.room_email,
        rooms.timezone,
        covered_dates.local_date,
        rooms.business_open_minute,
        rooms.business_close_minute,
        coalesce(
            extract(isodow from covered_dates.local_date)::integer::text
            = any(string_to_array(rooms.business_days, ','))
            and rooms.business_close_minute > rooms.business_open_minute,
            false
        ) as is_business_day
    from covered_dates
    inner join {{ ref('stg_graph__rooms') }} as rooms
        on covered_dates.room_key = rooms.room_key
    where rooms.room_email is not null

)

select
    room_key,
    room_email,
    timezone,
    local_date,
    is_business_day,
    (date_trunc('week', local_date))::date as week_start,
    local_date::timestamp at time zone timezone as day_start_at,
    (local_date + 1)::timestamp at time zone timezone as day_end_at,
    case
        when is_business_day
            then {{ roomcal_local_instant('local_date', 'business_open_minute', 'timezone') }}
    end as window_start_at,
    case
        when is_business_day
            then {{ roomcal_local_instant('local_date', 'business_close_minute', 'timezone') }}
    end as window_end_at,
    case
        when is_business_day
            then {{ roomcal_minutes(
                roomcal_local_instant('local_date', 'business_close_minute', 'timezone')
                ~ ' - ' ~
                roomcal_local_instant('local_date', 'business_open_minute', 'timezone')
            ) }}
        else 0
    end as business_minutes
from days
