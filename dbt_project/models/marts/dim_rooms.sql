{{ config(tags=['unpartitioned']) }}

-- Every room of the registry, also those without an email (room_email null), and rooms that
-- left it or whose registry row is malformed (registry_status), whose history stays in the marts.
select
    room_email,
    room_name,
    building,
    floor,
    capacity,
    timezone,
    room_key,
    business_open_minute,
    business_close_minute,
    business_days,
    registry_status,
    lpad((business_open_minute / 60)::text, 2, '0') || ':'
    || lpad((business_open_minute % 60)::text, 2, '0') || '-'
    || lpad((business_close_minute / 60)::text, 2, '0') || ':'
    || lpad((business_close_minute % 60)::text, 2, '0') as business_hours
from {{ ref('stg_graph__rooms') }}
