{#-
    CRM extracts are read by header name: `crm_columns` maps each required
    column to the quoted name the source has, in whatever order. A column the
    file lacks stops the run with one line naming the file and the column.
-#}
{% macro crm_columns(relation, file_name, required) %}
    {{ return(adapter.dispatch('crm_columns', 'weblogs')(relation, file_name, required)) }}
{% endmacro %}

{% macro default__crm_columns(relation, file_name, required) %}
    {#- Glue tables: columns are named by the catalog; a missing one is Athena's own error, naming it. -#}
    {%- set mapping = {} -%}
    {%- for name in required -%}{%- do mapping.update({name: adapter.quote(name)}) -%}{%- endfor -%}
    {{ return(mapping) }}
{% endmacro %}

{% macro duckdb__crm_columns(relation, file_name, required) %}
    {%- if not execute -%}
        {{ return(weblogs.default__crm_columns(relation, file_name, required)) }}
    {%- endif -%}
    {%- set path = weblogs.lake_root() ~ '/crm/' ~ file_name -%}
    {#- No file (a lint run, or a lake without CRM): the read itself fails, naming the path. -#}
    {%- if run_query('select count(*) from glob(' ~ weblogs.sql_string(path) ~ ')').columns[0].values()[0] == 0 -%}
        {{ return(weblogs.default__crm_columns(relation, file_name, required)) }}
    {%- endif -%}
    {%- set header = run_query('describe select * from ' ~ relation).columns[0].values() -%}
    {%- set mapping = {} -%}
    {%- for name in required -%}
        {%- for found in header -%}
            {%- if (found | trim | lower) == name and name not in mapping -%}
                {%- do mapping.update({name: '"' ~ (found | replace('"', '""')) ~ '"'}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if name not in mapping -%}
            {{ exceptions.raise_compiler_error(
                "weblogs CRM: " ~ path ~ " has no column '" ~ name ~ "' (its header: "
                ~ (header | join(', '))[:200] ~ ")"
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(mapping) }}
{% endmacro %}


{#-
    A CRM rating: an integer 1-5 written as one ASCII digit, after trimming;
    anything else (`4.5`, `five`, `0`, `٤`) is null. A list of texts, the same
    SQL on DuckDB and Athena, so both engines count the same ratings.
-#}
{% macro crm_rating(text_expression) -%}
    case
        when {{ text_expression }} in ('1', '2', '3', '4', '5')
            then cast({{ text_expression }} as integer)
    end
{%- endmacro %}
