{#-
    The events source as the engine should open it for the days the run reads
    (each session date of the window, one day either side). Staging also filters on the partition
    columns, which is what prunes on Athena (Glue partitions). On DuckDB the
    source is a glob over the whole lake (`<events>/*/*/*/*/*.parquet`): DuckDB
    lists every file of the lake's history and then filters the hive paths,
    which costs more than reading the three days a one-day run needs. So the
    glob is narrowed to the day folders of the read window that exist (a list
    entry matching no file would be an error in read_parquet); when none
    exists, the source is an empty relation with its columns.
    Files written before a column was added to the contract (`client_id`,
    `value`) lack it: the files are read by name (`union_by_name` over the
    window's files only) after an empty relation holding every source column,
    so a column no file of the window has still reads as null
    (docs/contract.md#1-the-event).
-#}
{% macro event_files(relation, days=none) %}
    {#- `days`: the day folders to open (default: the days the run reads); the caller's filter still prunes. -#}
    {{ return(adapter.dispatch('event_files', 'weblogs')(relation, days)) }}
{% endmacro %}

{% macro default__event_files(relation, days=none) %}
    {{ return(relation) }}
{% endmacro %}

{% macro duckdb__event_files(relation, days=none) %}
    {#-
        The source's location is the glob built from the var `lake_root`
        (models/staging/_staging.yml); the day folders are built from the same
        var, and the glob literal is swapped for their list. A source pointed
        elsewhere (a unit test's rows: no such glob in its location) is left as
        it is. No day folder at all: an empty relation with the source's
        columns, so no file of the lake is listed or read.
    -#}
    {%- set location = relation.external if relation.external is defined else none -%}
    {%- set lake_glob = weblogs.sql_string(weblogs.lake_root() ~ '/events/*/*/*/*/*.parquet') -%}
    {%- if not execute or location is none or lake_glob not in location -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set days = weblogs.window_days(read=true) if days is none else days -%}
    {%- set present = weblogs.present_day_globs('events', days, '*/*.parquet') -%}
    {%- set columns = [] -%}
    {%- for column in graph.sources['source.weblogs.weblogs.events'].columns.values() -%}
        {%- do columns.append('cast(null as ' ~ column.data_type ~ ') as ' ~ adapter.quote(column.name)) -%}
    {%- endfor -%}
    {%- set empty = 'select ' ~ columns | join(', ') ~ ' where 1 = 0' -%}
    {%- if present | length == 0 -%}
        {{ return('(' ~ empty ~ ')') }}
    {%- endif -%}
    {%- set folders = [] -%}
    {%- for folder in present -%}
        {%- do folders.append(weblogs.sql_string(folder)) -%}
    {%- endfor -%}
    {%- set files = location | replace(lake_glob, "[" ~ folders | join(', ') ~ "]") -%}
    {{ return('(' ~ empty ~ ' union all by name select * from ' ~ files ~ ')') }}
{% endmacro %}
