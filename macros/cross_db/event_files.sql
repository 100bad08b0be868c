{#-
    The events source as the engine should open it for the run's read window
    (startdate - 1 .. enddate + 1). Staging also filters on the partition
    columns, which is what prunes on Athena (Glue partitions). On DuckDB the
    source is a glob over the whole lake (`<events>/*/*/*/*/*.parquet`): DuckDB
    lists every file of the lake's history and then filters the hive paths,
    which costs more than reading the three days a one-day run needs. So the
    glob is narrowed to the day folders of the read window that exist (a list
    entry matching no file would be an error in read_parquet); when none
    exists, the source is left as it is and the partition filter yields no row.
-#}
{% macro event_files(relation) %}
    {{ return(adapter.dispatch('event_files', 'weblogs')(relation)) }}
{% endmacro %}

{% macro default__event_files(relation) %}
    {{ return(relation) }}
{% endmacro %}

{% macro duckdb__event_files(relation) %}
    {#-
        The source's location is the glob built from the var `lake_root`
        (models/staging/_staging.yml); the day folders are built from the same
        var, and the glob literal is swapped for their list. A source pointed
        elsewhere (no such glob in its location) is left as it is.
    -#}
    {%- set location = relation.external if relation.external is defined else none -%}
    {%- set root = weblogs.lake_root() -%}
    {%- set lake_glob = weblogs.sql_string(root ~ '/events/*/*/*/*/*.parquet') -%}
    {%- if not execute or location is none or lake_glob not in location -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set probes = [] -%}
    {%- for day in weblogs.window_days(read=true) -%}
        {%- set folder = weblogs.sql_string(root ~ day.strftime('/events/year=%Y/month=%m/day=%d/*/*.parquet')) -%}
        {%- do probes.append(
            "select " ~ folder ~ " as folder from (select 1 from glob(" ~ folder ~ ") limit 1)"
        ) -%}
    {%- endfor -%}
    {#- Zero-padded paths under one root: text order is day order. -#}
    {%- set present = run_query(probes | join(' union all ')).columns[0].values() | sort -%}
    {%- if present | length == 0 -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set folders = [] -%}
    {%- for folder in present -%}
        {%- do folders.append(weblogs.sql_string(folder)) -%}
    {%- endfor -%}
    {{ return(location | replace(lake_glob, "[" ~ folders | join(', ') ~ "]")) }}
{% endmacro %}
