{{ config(tags=['unpartitioned']) }}

-- Every room of the registry with the status of its latest sync result; a room that left the
-- registry (not_registered) or whose row is malformed (invalid_registry_row) is not_synced with
-- that reason, and keeps last_synced_at and its history. A room whose latest run
-- set some events aside in quarantine stays synced (its valid events are in the marts), with
-- events_quarantined and the reasons in detail.
with stored as (

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
-- The latest result, and the latest synced one, of each room: one index probe per room
-- (raw.room_sync_results is indexed on room_key, finished_at desc), however long the
-- history the table keeps.
left join lateral (
    select
        results.run_id,
        results.status,
        results.reason,
        results.detail,
        results.finished_at
    from {{ ref('stg_graph__room_sync_results') }} as results
    where results.room_key = rooms.room_key
    order by results.finished_at desc, results.started_at desc, results.run_id desc
    limit 1
) as latest on true
left join lateral (
    select
        results.finished_at,
        results.events_loaded,
        results.events_quarantined,
        results.window_start_date,
        results.window_end_date
    from {{ ref('stg_graph__room_sync_results') }} as results
    where results.room_key = rooms.room_key and results.status = 'synced'
    order by results.finished_at desc, results.started_at desc, results.run_id desc
    limit 1
) as latest_synced on true
left join stored on rooms.room_email = stored.room_email
