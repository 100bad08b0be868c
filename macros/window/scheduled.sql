{#-
    The scheduled run (var `run_date`): which session dates to rebuild.

    The transformation writes, next to each batch of events, an arrivals
    manifest under `arrivals/year=/month=/day=/` (the ARRIVAL date, UTC): one
    JSON line per event hour the batch touched, with the time it arrived
    (docs/analytics.md, Late data). The run log `weblogs_run_log` (a model,
    built last, so only a run whose models and tests all passed records
    itself) holds the end of the arrivals each successful scheduled run
    counted: its watermark.

    A scheduled run for `run_date` counts the arrivals from the watermark to
    `run_date` 00:00 UTC, reading only the arrival partitions of those days.
    An event dated E can change the sessions of E - 1 (it may belong to a
    session that started the day before), of E, and of E + 1 (it may join a
    session that otherwise would have started on E + 1): those are the
    session dates rebuilt, and the event days read are theirs plus one on
    each side. No history is scanned: without a run log, the first scheduled
    run counts the last `default_window_days` days of arrivals.
-#}

{#- DuckDB: the day folders of `days` under `prefix` that hold a file matching `tail`, as globs. -#}
{% macro present_day_globs(prefix, days, tail) %}
    {%- set probes = [] -%}
    {%- for day in days -%}
        {%- set folder = weblogs.lake_root() ~ '/' ~ prefix ~ day.strftime('/year=%Y/month=%m/day=%d/') ~ tail -%}
        {%- do probes.append(
            "select " ~ weblogs.sql_string(folder) ~ " as folder from (select 1 from glob("
            ~ weblogs.sql_string(folder) ~ ") limit 1)"
        ) -%}
    {%- endfor -%}
    {%- if not probes -%}
        {{ return([]) }}
    {%- endif -%}
    {#- Zero-padded paths under one root: text order is day order. -#}
    {{ return(run_query(probes | join(' union all ')).columns[0].values() | sort) }}
{% endmacro %}


{% macro _timestamp_literal(value) -%}
    cast('{{ value.strftime('%Y-%m-%d %H:%M:%S') }}' as timestamp)
{%- endmacro %}


{% macro scheduled_plan(run_date) %}
    {%- set arrivals = source('weblogs', 'arrivals') -%}
    {%- set cutoff = modules.datetime.datetime(run_date.year, run_date.month, run_date.day) -%}
    {%- set one_day = modules.datetime.timedelta(days=1) -%}
    {%- set first_from = cutoff - modules.datetime.timedelta(days=weblogs.validated_var('default_window_days')) -%}
    {%- if not execute -%}
        {{ return({'dates': [run_date - one_day], 'arrivals_from': first_from, 'arrivals_to': cutoff}) }}
    {%- endif -%}
    {%- set arrivals_from = [first_from] -%}
    {%- set log = adapter.get_relation(database=target.database, schema=target.schema, identifier='weblogs_run_log') -%}
    {%- if log is not none -%}
        {%- set last = run_query("select cast(max(arrivals_to) as varchar) from " ~ log).columns[0].values()[0] -%}
        {%- if last is not none -%}
            {%- do arrivals_from.pop() -%}
            {%- do arrivals_from.append(modules.datetime.datetime.strptime((last | string)[:19], '%Y-%m-%d %H:%M:%S')) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set arrivals_from = arrivals_from[0] -%}
    {%- if arrivals_from >= cutoff -%}
        {{ return({'dates': [], 'arrivals_from': arrivals_from, 'arrivals_to': cutoff}) }}
    {%- endif -%}
    {%- set arrival_days = weblogs._date_span(arrivals_from.date(), (cutoff - one_day).date()) -%}
    {%- if arrival_days | length > weblogs.max_window_days() -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: run_date=" ~ run_date ~ " would count " ~ arrival_days | length
            ~ " days of arrivals since the last scheduled run (" ~ arrivals_from ~ "), more than "
            ~ weblogs.max_window_days() ~ " -- run the schedule for an earlier run_date first, e.g. --vars '{run_date: "
            ~ (arrivals_from.date() + modules.datetime.timedelta(days=weblogs.max_window_days())) ~ "}'"
        ) }}
    {%- endif -%}
    {%- set touched = run_query(weblogs.arrivals_query(arrivals, arrival_days, arrivals_from, cutoff)).columns[0].values() -%}
    {%- set dates = [] -%}
    {%- for text in touched -%}
        {%- set day = weblogs._parse_window_date('arrivals event_date', (text | string)[:10]) -%}
        {%- for neighbour in [day - one_day, day, day + one_day] -%}
            {%- if neighbour not in dates -%}{%- do dates.append(neighbour) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set dates = dates | sort -%}
    {%- if dates | length > weblogs.max_window_days() -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: run_date=" ~ run_date ~ ": the events that arrived since " ~ arrivals_from
            ~ " touch " ~ dates | length ~ " session dates (" ~ dates[0] ~ " .. " ~ dates[-1] ~ "), more than "
            ~ weblogs.max_window_days() ~ " -- rebuild them with --vars '{startdate: ..., enddate: ...}' runs of at most "
            ~ weblogs.max_window_days() ~ " days, then run the schedule for a later run_date"
        ) }}
    {%- endif -%}
    {{ return({'dates': dates, 'arrivals_from': arrivals_from, 'arrivals_to': cutoff}) }}
{% endmacro %}


{#- The event dates (text, YYYY-MM-DD) of the arrivals in [arrivals_from, arrivals_to). -#}
{% macro arrivals_query(relation, arrival_days, arrivals_from, arrivals_to) %}
    {{ return(adapter.dispatch('arrivals_query', 'weblogs')(relation, arrival_days, arrivals_from, arrivals_to)) }}
{% endmacro %}

{% macro default__arrivals_query(relation, arrival_days, arrivals_from, arrivals_to) %}
    {#- A Glue table partitioned by arrival date: only those partitions are read. -#}
    {{ return(
        "select distinct event_date from " ~ relation
        ~ " where " ~ weblogs.day_partition_filter(arrival_days)
        ~ " and " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " >= " ~ weblogs._timestamp_literal(arrivals_from)
        ~ " and " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " < " ~ weblogs._timestamp_literal(arrivals_to)
        ~ " order by 1"
    ) }}
{% endmacro %}

{% macro duckdb__arrivals_query(relation, arrival_days, arrivals_from, arrivals_to) %}
    {%- set globs = weblogs.present_day_globs('arrivals', arrival_days, '*.json*') -%}
    {%- if not globs -%}
        {{ return("select cast(null as varchar) as event_date where 1 = 0") }}
    {%- endif -%}
    {%- set files = [] -%}
    {%- for glob in globs -%}{%- do files.append(weblogs.sql_string(glob)) -%}{%- endfor -%}
    {{ return(
        "select distinct event_date from read_json([" ~ files | join(', ') ~ "], format = 'newline_delimited',"
        ~ " columns = {'event_date': 'varchar', 'event_hour': 'varchar', 'events': 'bigint', 'arrived_at': 'varchar'})"
        ~ " where " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " >= " ~ weblogs._timestamp_literal(arrivals_from)
        ~ " and " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " < " ~ weblogs._timestamp_literal(arrivals_to)
        ~ " order by 1"
    ) }}
{% endmacro %}
