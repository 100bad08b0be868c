{#-
    `--full-refresh` rebuilds an incremental model from the run's window only:
    every older date would be gone. So it is refused for an incremental model
    that exists already, unless the var `allow_full_refresh` is true (the
    anchor: Snowplow's `allow_refresh`). A first build (no table yet) is not
    a refresh and always runs.
-#}
{% macro check_full_refresh() %}
    {%- set allowed = var('allow_full_refresh', false) -%}
    {%- if allowed is not sameas true and allowed is not sameas false -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: allow_full_refresh=" ~ (allowed | string)[:40] ~ " is not true or false"
        ) }}
    {%- endif -%}
    {%- if not execute or not flags.FULL_REFRESH or allowed -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set existing = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.config.materialized == 'incremental'
        and node.unique_id in selected_resources and node.config.full_refresh is not sameas false -%}
        {%- if adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) is not none -%}
            {%- do existing.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if existing -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: --full-refresh would rebuild the incremental models " ~ existing | sort | join(', ')
            ~ " from this run's window only, dropping every other date they hold -- rebuild dates with"
            ~ " --vars '{startdate: ..., enddate: ...}' instead, or pass --vars '{allow_full_refresh: true}'"
            ~ " (weblogs models --allow-full-refresh) to drop them on purpose"
        ) }}
    {%- endif -%}
{% endmacro %}
