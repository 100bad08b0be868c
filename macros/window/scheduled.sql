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
    {%- set lines = run_query(weblogs.arrivals_query(arrivals, arrival_days, arrivals_from, cutoff)) -%}
    {#- Per event date: its hours' earliest ingested_at, or none when a line has none (whole-date rebuild). -#}
    {%- set by_date = {} -%}
    {%- set touched = [] -%}
    {%- for row in lines.rows -%}
        {%- set day = weblogs._parse_window_date('arrivals event_date', (row[0] | string)[:10]) -%}
        {%- if day not in touched -%}
            {%- do touched.append(day) -%}
            {%- do by_date.update({day: []}) -%}
        {%- endif -%}
        {%- set hour = (row[1] | string) | trim -%}
        {%- set first = (row[2] | string) | trim if row[2] is not none else '' -%}
        {%- if row[3] == 0 and modules.re.match('^([01][0-9]|2[0-3])$', hour)
            and modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?$', first) -%}
            {%- if by_date[day] is not none -%}
                {%- do by_date[day].append([hour, first[:10] ~ ' ' ~ first[11:26]]) -%}
            {%- endif -%}
        {%- else -%}
            {%- do by_date.update({day: none}) -%}
        {%- endif -%}
    {%- endfor -%}
    {#-
        An event date whose events arrived within a day of it (on time) has its
        session dates rebuilt whole. An older (late) date with every line
        carrying `first_ingested_at` has its session dates patched where the
        engine can delete rows: only the sessions of its newly arrived rows are
        recomputed and replaced (docs/analytics.md, Late data).
    -#}
    {%- set on_time_from = arrivals_from.date() - one_day -%}
    {%- set full = [] -%}
    {%- set patch = [] -%}
    {%- set new_rows = [] -%}
    {%- set patching = weblogs.session_patch_allowed() -%}
    {%- for day in touched | sort -%}
        {%- set late = patching and day < on_time_from and by_date[day] is not none -%}
        {%- for neighbour in [day - one_day, day, day + one_day] -%}
            {%- set bucket = patch if late else full -%}
            {%- if neighbour not in bucket -%}{%- do bucket.append(neighbour) -%}{%- endif -%}
        {%- endfor -%}
        {%- if late -%}
            {%- for line in by_date[day] -%}
                {%- do new_rows.append([day, line[0], line[1]]) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set patch = patch | reject('in', full) | list -%}
    {%- if patch -%}
        {#- A date the persisted sessions do not hold yet (never built) is rebuilt whole. -#}
        {%- set held = weblogs.session_dates_held(patch) -%}
        {%- for day in patch -%}
            {%- if day not in held -%}{%- do full.append(day) -%}{%- endif -%}
        {%- endfor -%}
        {%- set patch = patch | reject('in', full) | list -%}
    {%- endif -%}
    {%- set dates = (full + patch) | sort -%}
    {%- if dates | length > weblogs.max_window_days() -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: run_date=" ~ run_date ~ ": the events that arrived since " ~ arrivals_from
            ~ " touch " ~ dates | length ~ " session dates (" ~ dates[0] ~ " .. " ~ dates[-1] ~ "), more than "
            ~ weblogs.max_window_days() ~ " -- rebuild them with --vars '{startdate: ..., enddate: ...}' runs of at most "
            ~ weblogs.max_window_days() ~ " days, then run the schedule for a later run_date"
        ) }}
    {%- endif -%}
    {{ return({
        'dates': dates,
        'full_dates': full | sort,
        'patch_dates': patch | sort,
        'new_rows': new_rows if patch else [],
        'arrivals_from': arrivals_from,
        'arrivals_to': cutoff,
    }) }}
{% endmacro %}


{#-
    Session-level patching (the late dates of a scheduled run) needs row-level
    deletes and the persisted per-session tables of earlier runs: it is used
    only when the engine supports it (dispatched), the run is not a full
    refresh, and this invocation builds all the tables it patches.
-#}
{% macro session_patch_allowed() %}
    {%- if not execute or flags.FULL_REFRESH or not weblogs.session_patch_supported() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for name in weblogs.patched_models() -%}
        {%- if ('model.weblogs.' ~ name) not in selected_resources -%}
            {{ return(false) }}
        {%- endif -%}
        {%- if adapter.get_relation(database=target.database, schema=target.schema, identifier=name) is none -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{% endmacro %}


{#- The models a patched run updates session by session, and the per-run table they read. -#}
{% macro patched_models() %}
    {{ return([
        'int_run_session_events', 'int_run_sessions', 'int_run_page_views', 'int_run_session_event_values',
        'session_anomalies', 'engagement_metrics',
    ]) }}
{% endmacro %}


{% macro session_patch_supported() %}
    {{ return(adapter.dispatch('session_patch_supported', 'weblogs')()) }}
{% endmacro %}

{% macro default__session_patch_supported() %}
    {#- Hive tables (Athena, the local Trino) replace whole partitions: whole dates are rebuilt. -#}
    {{ return(false) }}
{% endmacro %}

{% macro duckdb__session_patch_supported() %}
    {{ return(true) }}
{% endmacro %}


{#- Of `days`, those int_run_sessions holds sessions for. -#}
{% macro session_dates_held(days) %}
    {%- set relation = adapter.get_relation(database=target.database, schema=target.schema, identifier='int_run_sessions') -%}
    {%- if relation is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set found = run_query(
        "select distinct cast(session_date as varchar) from " ~ relation
        ~ " where " ~ weblogs.in_days('session_date', days)
    ).columns[0].values() -%}
    {%- set held = [] -%}
    {%- for text in found -%}
        {%- do held.append(weblogs._parse_window_date('int_run_sessions session_date', (text | string)[:10])) -%}
    {%- endfor -%}
    {{ return(held) }}
{% endmacro %}


{#-
    The arrivals in [arrivals_from, arrivals_to), one row per event date and hour:
    event_date (text, YYYY-MM-DD), event_hour, the earliest first_ingested_at (text),
    and how many lines have none (or an unreadable one).
-#}
{% macro arrivals_query(relation, arrival_days, arrivals_from, arrivals_to) %}
    {{ return(adapter.dispatch('arrivals_query', 'weblogs')(relation, arrival_days, arrivals_from, arrivals_to)) }}
{% endmacro %}

{% macro default__arrivals_query(relation, arrival_days, arrivals_from, arrivals_to) %}
    {#- A Glue table partitioned by arrival date: only those partitions are read. -#}
    {{ return(
        "select event_date, event_hour, " ~ weblogs._first_ingested_columns() ~ " from " ~ relation
        ~ " where " ~ weblogs.day_partition_filter(arrival_days)
        ~ " and " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " >= " ~ weblogs._timestamp_literal(arrivals_from)
        ~ " and " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " < " ~ weblogs._timestamp_literal(arrivals_to)
        ~ " group by 1, 2 order by 1, 2"
    ) }}
{% endmacro %}

{% macro duckdb__arrivals_query(relation, arrival_days, arrivals_from, arrivals_to) %}
    {%- set globs = weblogs.present_day_globs('arrivals', arrival_days, '*.json*') -%}
    {%- if not globs -%}
        {{ return(
            "select cast(null as varchar) as event_date, cast(null as varchar) as event_hour,"
            ~ " cast(null as varchar) as first_ingested_at, 0 as without_first_ingested_at where 1 = 0"
        ) }}
    {%- endif -%}
    {%- set files = [] -%}
    {%- for glob in globs -%}{%- do files.append(weblogs.sql_string(glob)) -%}{%- endfor -%}
    {{ return(
        "select event_date, event_hour, " ~ weblogs._first_ingested_columns() ~ " from read_json([" ~ files | join(', ') ~ "], format = 'newline_delimited',"
        ~ " columns = {'event_date': 'varchar', 'event_hour': 'varchar', 'events': 'bigint', 'arrived_at': 'varchar',"
        ~ " 'first_ingested_at': 'varchar'})"
        ~ " where " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " >= " ~ weblogs._timestamp_literal(arrivals_from)
        ~ " and " ~ weblogs.iso8601_to_utc_timestamp('arrived_at') ~ " < " ~ weblogs._timestamp_literal(arrivals_to)
        ~ " group by 1, 2 order by 1, 2"
    ) }}
{% endmacro %}


{% macro _first_ingested_columns() %}
    {%- set parsed = weblogs.iso8601_to_utc_timestamp('first_ingested_at') -%}
    {{ return(
        "cast(min(" ~ parsed ~ ") as varchar) as first_ingested_at,"
        ~ " count(*) - count(" ~ parsed ~ ") as without_first_ingested_at"
    ) }}
{% endmacro %}
