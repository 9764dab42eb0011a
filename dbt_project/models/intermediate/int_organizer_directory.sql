-- One row per lower-cased organizer address: the best directory answer stored for it.
-- raw.organizer_directory keeps one row per address whose state only improves (a found
-- department is replaced only by another found answer, warehouse/directory.py); should
-- two raw rows fold into one lower-cased address, a found answer wins over not_found,
-- which wins over forbidden and error, and the latest wins among equals.
with ranked as (

    select
        organizer_address,
        department,
        lookup_status,
        looked_up_at,
        row_number() over (
            partition by organizer_address
            order by
                case lookup_status
                    when 'found' then 1
                    when 'not_found' then 2
                    when 'forbidden' then 3
                    else 4
                end asc,
                looked_up_at desc
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
