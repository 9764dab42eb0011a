{{ config(tags=['unpartitioned']) }}

-- Every room of the registry with the status of its latest sync result; a room that left the
-- registry (not_registered) or whose row is malformed (invalid_registry_row) is not_synced with
-- that reason, and keeps last_synced_at and its history. A room whose latest run
-- set some events aside in quarantine stays synced (its valid events are in the marts), with
-- events_quarantined and the reasons in detail.
with results as (

    select
        *,
        row_number() over (
            partition by room_key
            order by finished_at desc, started_at desc, run_id desc
        ) as recency,
        row_number() over (
            partition by room_key, status
            order by finished_at desc, started_at desc, run_id desc
        ) as status_recency
    from {{ ref('stg_graph__room_sync_results') }}

),

latest as (

    select * from results
    where recency = 1

),

latest_synced as (

    select * from results
    where status = 'synced' and status_recency = 1

),

stored as (

    select
        room_email,
        count(*) as events_stored
    from {{ ref('stg_graph__room_events') }}
    group by room_email

)

select
    rooms.room_email,
    rooms.room_name,
    case
        when rooms.registry_status <> 'registered' then 'not_synced'
        else coalesce(latest.status, 'not_synced')
    end as status,
    case
        when rooms.registry_status <> 'registered' then rooms.registry_status
        when latest.status is not null then latest.reason
        when rooms.room_email is null then 'no_email'
    end as reason,
    case
        when rooms.registry_status <> 'registered' then rooms.registry_detail
        when latest.status is not null then latest.detail
        when rooms.room_email is null then 'The room is registered without an email address.'
        else 'No sync has run for this room yet.'
    end as detail,
    latest_synced.finished_at as last_synced_at,
    latest_synced.events_loaded as events_synced,
    coalesce(latest_synced.events_quarantined, 0) as events_quarantined,
    rooms.room_key,
    latest.run_id as latest_run_id,
    latest.finished_at as latest_attempt_at,
    latest_synced.window_start_date as last_synced_window_start_date,
    latest_synced.window_end_date as last_synced_window_end_date,
    coalesce(stored.events_stored, 0) as events_stored
from {{ ref('stg_graph__rooms') }} as rooms
left join latest on rooms.room_key = latest.room_key
left join latest_synced on rooms.room_key = latest_synced.room_key
left join stored on rooms.room_email = stored.room_email
