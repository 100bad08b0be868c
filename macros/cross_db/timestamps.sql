{#- ISO-8601 text (offset optional; none means UTC) to a UTC timestamp without time zone; null if invalid. -#}
{% macro iso8601_to_utc_timestamp(expression) %}
    {{ return(adapter.dispatch('iso8601_to_utc_timestamp', 'weblogs')(expression)) }}
{% endmacro %}

{% macro default__iso8601_to_utc_timestamp(expression) -%}
    case
        when regexp_matches({{ expression }}, '([+-][0-9]{2}(:?[0-9]{2})?|[zZ])$')
            then try_cast(
                try_cast({{ expression }} as timestamp with time zone) at time zone 'UTC' as timestamp
            )
        else try_cast({{ expression }} as timestamp)
    end
{%- endmacro %}

{% macro athena__iso8601_to_utc_timestamp(expression) -%}
    cast(try(from_iso8601_timestamp({{ expression }}) at time zone 'UTC') as timestamp)
{%- endmacro %}

{% macro trino__iso8601_to_utc_timestamp(expression) -%}
    {{ weblogs.athena__iso8601_to_utc_timestamp(expression) }}
{%- endmacro %}
