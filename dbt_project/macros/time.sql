{#- Length of an interval expression in minutes (double precision). -#}
{% macro roomcal_minutes(interval_expression) -%}
    (extract(epoch from ({{ interval_expression }})) / 60.0)::double precision
{%- endmacro %}

{#- The UTC instant of local wall time `minutes` after midnight of local date `date_expression` in zone `tz`. -#}
{% macro roomcal_local_instant(date_expression, minutes_expression, tz) -%}
    (({{ date_expression }})::timestamp + ({{ minutes_expression }}) * interval '1 minute') at time zone {{ tz }}
{%- endmacro %}

{#- The ad hoc threshold (docs/metrics.md), validated as a number. -#}
{% macro roomcal_adhoc_max_lead_minutes() -%}
    {%- set value = var('adhoc_max_lead_minutes', 30) | string | trim -%}
    {%- set sentinel = -987654321.5 -%}
    {%- set number = value | float(sentinel) -%}
    {%- if number == sentinel -%}
        {%- if exceptions is defined -%}
            {{ exceptions.raise_compiler_error("dbt var adhoc_max_lead_minutes must be a number, got " ~ value) }}
        {%- endif -%}
        {%- set number = 30 -%}
    {%- endif -%}
    {{ number }}
{%- endmacro %}
