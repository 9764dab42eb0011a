{#-
  Booking intervals per room and local business day from int_booking_days rows that pass
  `row_filter`, clipped to the business window and merged where they overlap or touch: one row
  per merged interval. The int_booking_intervals_merged view is this over every booking; a
  partitioned mart calls it with roomcal_utc_prefilter, which a filter on the view's booking_date
  could not do (that date is computed after the per-day expansion, so PostgreSQL would expand
  every event of the warehouse first).
-#}
{% macro roomcal_merged_intervals(booking_days, row_filter='true') -%}
select
    room_email,
    booking_date,
    island_number::integer as interval_number,
    min(clipped_start_at) as interval_start_at,
    max(clipped_end_at) as interval_end_at,
    {{ roomcal_minutes('max(clipped_end_at) - min(clipped_start_at)') }} as interval_minutes,
    count(*) as bookings
from (
    select
        *,
        sum(starts_island) over (
            partition by room_email, booking_date
            order by clipped_start_at, clipped_end_at, event_id
            rows between unbounded preceding and current row
        ) as island_number
    from (
        select
            room_email,
            booking_date,
            event_id,
            clipped_start_at,
            clipped_end_at,
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
        from {{ booking_days }}
        where clipped_end_at > clipped_start_at and {{ row_filter }}
    ) as marked
) as islands
group by room_email, booking_date, island_number
{%- endmacro %}
