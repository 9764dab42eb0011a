{#-
  The partition window: dbt vars `min_date` and `max_date` (ISO local dates, max exclusive)
  that Dagster passes for a partition range. Either may be absent (null): unbounded on that side.
-#}

{% macro roomcal_window_var(name) -%}
{%- set value = var(name, none) -%}
{%- if value is none or (value | string | trim) in ('', 'None', 'none', 'null') -%}
{{ return(none) }}
{%- endif -%}
{%- set text = value | string | trim -%}
{#- Only digits and dashes reach the SQL: YYYY-MM-DD (PostgreSQL rejects impossible dates). -#}
    {%- set is_iso = text | length == 10 and text[4] == '-' and text[7] == '-'
        and (text[0:4] ~ text[5:7] ~ text[8:10]) | int(-1) >= 0
        and '+' not in text and ' ' not in text -%}
{%- if not is_iso -%}
{%- if exceptions is defined -%}
{{ exceptions.raise_compiler_error("dbt var " ~ name ~ " must be an ISO date (YYYY-MM-DD), got " ~ text) }}
{%- endif -%}
{#- Only reached outside dbt (the sqlfluff jinja templater mocks var()). -#}
{{ return(none) }}
{%- endif -%}
{{ return(text) }}
{%- endmacro %}

{% macro roomcal_has_window() -%}
{{ return(roomcal_window_var('min_date') is not none or roomcal_window_var('max_date') is not none) }}
{%- endmacro %}

{#- SQL predicate: a local date column inside [min_date, max_date). -#}
{% macro roomcal_date_in_window(column) -%}
{%- set lo = roomcal_window_var('min_date') -%}
{%- set hi = roomcal_window_var('max_date') -%}
{%- if lo is none and hi is none -%}
        true
    {%- else -%}
{%- if lo is not none %}{{ column }} >= date '{{ lo }}'{% endif -%}
{%- if lo is not none and hi is not none %} and {% endif -%}
{%- if hi is not none %}{{ column }} < date '{{ hi }}'{% endif -%}
{%- endif -%}
{%- endmacro %}

{#- SQL predicate: an ISO week start (Monday) column whose week touches [min_date, max_date). -#}
{% macro roomcal_week_in_window(column) -%}
{%- set lo = roomcal_window_var('min_date') -%}
{%- set hi = roomcal_window_var('max_date') -%}
{%- if lo is none and hi is none -%}
        true
    {%- else -%}
{%- if lo is not none %}{{ column }} >= date_trunc('week', date '{{ lo }}')::date{% endif -%}
{%- if lo is not none and hi is not none %} and {% endif -%}
{%- if hi is not none %}{{ column }} < (date_trunc('week', date '{{ hi }}' - 1) + interval '7 days')::date{% endif -%}
{%- endif -%}
{%- endmacro %}

{#-
  SQL predicate on UTC start/end columns: a cheap superset of the bookings that can overlap a local
  date of the window (time zones are within UTC-12..+14, so two days of margin are ample); it lets
  PostgreSQL discard other events before the per-day expansion. grain='week' widens to ISO weeks.
  Written as a range overlap on exactly the expression of the GiST index room_events_span on
  raw.room_events (migration 8): the predicate reaches that table through the views, so a partition
  reads the events near its dates instead of every event.
-#}
{% macro roomcal_utc_prefilter(start_column, end_column, grain='day') -%}
    {%- set lo = roomcal_window_var('min_date') -%}
    {%- set hi = roomcal_window_var('max_date') -%}
    {%- if lo is none and hi is none -%}
        true
    {%- else -%}
        {%- if grain == 'week' -%}
            {%- set lo_expr = "date_trunc('week', date '" ~ lo ~ "')" -%}
            {%- set hi_expr = "(date_trunc('week', date '" ~ hi ~ "' - 1) + interval '7 days')" -%}
        {%- else -%}
            {%- set lo_expr = "date '" ~ lo ~ "'" -%}
            {%- set hi_expr = "date '" ~ hi ~ "'" -%}
        {%- endif -%}
        {%- set lo_bound = "(" ~ lo_expr ~ " - interval '2 days')::timestamp at time zone 'UTC'" if lo is not none else "null" -%}
        {%- set hi_bound = "(" ~ hi_expr ~ " + interval '2 days')::timestamp at time zone 'UTC'" if hi is not none else "null" -%}
        tstzrange({{ start_column }}, greatest({{ start_column }}, {{ end_column }}), '[]')
        && tstzrange({{ lo_bound }}, {{ hi_bound }}, '[)')
    {%- endif -%}
{%- endmacro %}

{#-
  pre_hook of the partitioned incremental marts: delete the rows of the window (all rows when no
  window is given) before the new rows are inserted, so a re-run gives the same rows even when
  events were deleted or moved in raw since. Runs in the model's transaction.
-#}
{% macro roomcal_delete_window(column, grain='day') -%}
{%- if is_incremental() -%}
{%- if grain == 'week' -%}
            delete from {{ this }} where {{ roomcal_week_in_window(column) }}
        {%- else -%}
            delete from {{ this }} where {{ roomcal_date_in_window(column) }}
        {%- endif -%}
    {%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- SQL predicate: rows spanning local dates [first_column, last_column] that overlap the window. -#}
{% macro roomcal_span_in_window(first_column, last_column) -%}
{%- set lo = roomcal_window_var('min_date') -%}
{%- set hi = roomcal_window_var('max_date') -%}
{%- if lo is none and hi is none -%}
        true
    {%- else -%}
{%- if lo is not none %}{{ last_column }} >= date '{{ lo }}'{% endif -%}
{%- if lo is not none and hi is not none %} and {% endif -%}
{%- if hi is not none %}{{ first_column }} < date '{{ hi }}'{% endif -%}
{%- endif -%}
{%- endmacro %}

{#-
  pre_hook of incremental marts whose rows span local dates (a booking from first_column to
  last_column, both inclusive): delete the rows that overlap the window, so that a booking
  deleted or moved in raw leaves every window it overlapped; the model inserts again every
  row that overlaps the window. Runs in the model's transaction.
-#}
{% macro roomcal_delete_span_window(first_column, last_column) -%}
{%- if is_incremental() -%}
{#- A table built before last_column existed: its rows were keyed on their first date. -#}
{%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
{%- if last_column not in existing -%}{%- set last_column = first_column -%}{%- endif -%}
            delete from {{ this }} where {{ roomcal_span_in_window(first_column, last_column) }}
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}
