-- One row per lower-cased organizer address: the latest directory lookup.
with ranked as (

    select
        organizer_address,
        department,
        lookup_status,
        looked_up_at,
        row_number() over (
            partition by organizer_address
            order by looked_up_at desc, lookup_status asc
        ) as recency
    from {{ ref('stg_graph__organizer_directory') }}

)

select
    organizer_address,
    department,
    lookup_status,
    looked_up_at
from ranked
where recency = 1
