-- Booking intervals per room and local business day, clipped to the business window and merged
-- where they overlap or touch: one row per merged interval, so overlaps are never counted twice.
with clipped as (

    select
        room_email,
        booking_date,
        event_id,
        clipped_start_at,
        clipped_end_at
    from {{ ref('int_booking_days') }}
    where clipped_end_at > clipped_start_at

),

marked as (

    select
        *,
        case
            when clipped_start_at <= max(clipped_end_at)
                    over (
                        partition by room_email, booking_date
                        order by clipped_start_at, clipped_end_at, event_id
                        rows between unbounded preceding and 1 preceding
                    )
                then 0
            else 1
        end as starts_island
    from clipped

),

islands as (

    select
        *,
        sum(starts_island) over (
            partition by room_email, booking_date
            order by clipped_start_at, clipped_end_at, event_id
            rows between unbounded preceding and current row
        ) as island_number
    from marked

)

select
    room_email,
    booking_date,
    island_number::integer as interval_number,
    min(clipped_start_at) as interval_start_at,
    max(clipped_end_at) as interval_end_at,
    {{ roomcal_minutes('max(clipped_end_at) - min(clipped_start_at)') }} as interval_minutes,
    count(*) as bookings
from islands
group by room_email, booking_date, island_number
