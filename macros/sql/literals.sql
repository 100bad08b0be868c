{#- A value as trimmed text, whatever its type in the source (CSV text locally, typed Glue columns on Athena). -#}
{% macro as_trimmed_text(expression) -%}
    nullif(trim(cast({{ expression }} as varchar)), '')
{%- endmacro %}


{#- A value as one SQL string literal: quotes doubled, so any text stays text. -#}
{% macro sql_string(value) %}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{% endmacro %}


{#- A list var rendered as a SQL list of string literals, quotes escaped. -#}
{% macro sql_string_list(values) -%}
    {%- if values is string or values is not iterable -%}
        {{ exceptions.raise_compiler_error("weblogs vars: expected a list of strings, got " ~ values) }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | lower | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    ({{ quoted | join(', ') }})
{%- endmacro %}
