with source as (

    select * from {{ source('raw', 'organizer_directory') }}

)

select
    lower(trim(organizer_address)) as organizer_address,
    nullif(trim(department), '') as department,
    lookup_status,
    looked_up_at
from source
