-- Booking intervals per room and local business day, clipped to the business window and merged
-- where they overlap or touch: one row per merged interval, so overlaps are never counted twice.
-- The SQL is the macro roomcal_merged_intervals, which room_booking_rate_daily also uses with a
-- prefilter for its dates.
{{ roomcal_merged_intervals(ref('int_booking_days')) }}
