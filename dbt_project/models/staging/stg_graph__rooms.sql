with source as (

    select * from {{ source('raw', 'rooms') }}

)

select
    room_key,
    lower(nullif(trim(room_email), '')) as room_email,
    room_name,
    building,
    floor,
    capacity::integer as capacity,
    timezone,
    business_open_minute::integer as business_open_minute,
    business_close_minute::integer as business_close_minute,
    regexp_replace(business_days, '[^0-9,]', '', 'g') as business_days,
    registry_line,
    registry_status,
    registry_detail,
    loaded_at
from source
