{#-
    The scheduled run (var `run_date`): which session dates to rebuild.

    The plan is computed in Python before dbt starts (`weblogs models`, from
    weblogs/core/run_plan.py: the previous watermark, the arrivals manifests
    and the run date) and handed over as the var `run_plan`. These macros
    only check it: every date a real YYYY-MM-DD, every time a whole number
    of microseconds since 1970 inside the contract's years, every hour 00-23,
    at most `max_window_days` dates. A `run_date` without a `run_plan` stops
    with one line naming `weblogs models` (docs/operations.md).

    The run log `weblogs_run_log` (a model, built last, so only a run whose
    models and tests all passed records itself) holds the end of the
    arrivals each successful scheduled run counted: the next run's watermark.
-#}

{#- 2000-01-01 and 3000-01-01 00:00 UTC, in microseconds since 1970. -#}
{% macro _plan_moment(name, value) %}
    {%- if value is not number or value is sameas true or value is sameas false
        or value != (value | int) or value < 946684800000000 or value >= 32503680000000000 -%}
        {{ weblogs._plan_error(name ~ "=" ~ (value | string)[:40] ~ " is not a time in microseconds since 1970 (2000 .. 2999)") }}
    {%- endif -%}
    {{ return(modules.datetime.datetime(1970, 1, 1) + modules.datetime.timedelta(microseconds=value | int)) }}
{% endmacro %}


{% macro _plan_error(message) %}
    {{ exceptions.raise_compiler_error(
        "weblogs vars: run_plan: " ~ message
        ~ " -- the scheduled run's plan comes from `weblogs models --run-date YYYY-MM-DD` (docs/operations.md)"
    ) }}
{% endmacro %}


{% macro _plan_dates(plan, key) %}
    {%- set values = plan.get(key, []) -%}
    {%- if values is string or values is not iterable or values is mapping -%}
        {{ weblogs._plan_error(key ~ " is not a list of dates") }}
    {%- endif -%}
    {%- set dates = [] -%}
    {%- for value in values -%}
        {%- set day = weblogs._parse_window_date('run_plan.' ~ key, value) -%}
        {%- if day in dates -%}{{ weblogs._plan_error(key ~ " lists " ~ day ~ " twice") }}{%- endif -%}
        {%- do dates.append(day) -%}
    {%- endfor -%}
    {{ return(dates | sort) }}
{% endmacro %}


{% macro scheduled_plan(run_date) %}
    {%- set plan = var('run_plan', none) -%}
    {%- if plan is none -%}
        {%- if not execute -%}
            {#- Parsing (dbt parse, or a manifest reused across runs): the shape only. -#}
            {%- set cutoff = modules.datetime.datetime(run_date.year, run_date.month, run_date.day) -%}
            {{ return({'dates': [], 'full_dates': [], 'patch_dates': [], 'new_rows': [],
                'arrivals_from': cutoff, 'arrivals_to': cutoff}) }}
        {%- endif -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: run_date=" ~ run_date ~ " needs its plan (var run_plan) -- run the scheduled run with"
            ~ " `weblogs models --run-date " ~ run_date ~ "` (it reads the arrivals and the run log, then runs dbt build"
            ~ " with both vars; docs/operations.md), or rebuild dates with --vars '{startdate: ..., enddate: ...}'"
        ) }}
    {%- endif -%}
    {%- if plan is not mapping -%}
        {{ weblogs._plan_error("not a mapping") }}
    {%- endif -%}
    {%- set unknown = plan.keys() | reject('in', ['run_date', 'arrivals_from_us', 'arrivals_to_us', 'full_dates', 'patch_dates', 'new_rows']) | list -%}
    {%- if unknown -%}
        {{ weblogs._plan_error("unknown keys " ~ unknown | join(', ')) }}
    {%- endif -%}
    {%- if weblogs._parse_window_date('run_plan.run_date', plan.get('run_date')) != run_date -%}
        {{ weblogs._plan_error("run_date " ~ plan.get('run_date') ~ " is not the var run_date " ~ run_date) }}
    {%- endif -%}
    {%- set arrivals_from = weblogs._plan_moment('arrivals_from_us', plan.get('arrivals_from_us')) -%}
    {%- set arrivals_to = weblogs._plan_moment('arrivals_to_us', plan.get('arrivals_to_us')) -%}
    {%- if arrivals_to < arrivals_from or arrivals_to > modules.datetime.datetime(run_date.year, run_date.month, run_date.day) -%}
        {{ weblogs._plan_error("arrivals_to is not between arrivals_from and the run date's 00:00 UTC") }}
    {%- endif -%}
    {%- set full = weblogs._plan_dates(plan, 'full_dates') -%}
    {%- set patch = weblogs._plan_dates(plan, 'patch_dates') -%}
    {%- if full | select('in', patch) | list -%}
        {{ weblogs._plan_error("a date is both in full_dates and patch_dates") }}
    {%- endif -%}
    {%- if (full + patch) | length > weblogs.max_window_days() -%}
        {{ weblogs._plan_error((full + patch) | length ~ " dates, more than " ~ weblogs.max_window_days()) }}
    {%- endif -%}
    {%- set new_rows = weblogs._plan_new_rows(plan.get('new_rows', []), patch) -%}
    {%- if patch and not weblogs.session_patch_allowed() -%}
        {#- This invocation cannot patch (another engine, a --select, a full refresh): whole dates. -#}
        {%- set full = (full + patch) | sort -%}
        {%- set patch = [] -%}
        {%- set new_rows = [] -%}
    {%- endif -%}
    {{ return({
        'dates': (full + patch) | sort,
        'full_dates': full,
        'patch_dates': patch,
        'new_rows': new_rows,
        'arrivals_from': arrivals_from,
        'arrivals_to': arrivals_to,
    }) }}
{% endmacro %}


{#- The late rows of the plan: (event_date, event_hour, first_ingested_at text), each checked. -#}
{% macro _plan_new_rows(rows, patch) %}
    {%- if rows is string or rows is not iterable or rows is mapping -%}
        {{ weblogs._plan_error("new_rows is not a list") }}
    {%- endif -%}
    {%- set hours = [] -%}
    {%- for hour in range(24) -%}{%- do hours.append('%02d' % hour) -%}{%- endfor -%}
    {%- set checked = [] -%}
    {%- for row in rows -%}
        {%- if row is not mapping -%}{{ weblogs._plan_error("a new_rows item is not a mapping") }}{%- endif -%}
        {%- set day = weblogs._parse_window_date('run_plan.new_rows.event_date', row.get('event_date')) -%}
        {%- if row.get('event_hour') not in hours -%}
            {{ weblogs._plan_error("new_rows event_hour " ~ (row.get('event_hour') | string)[:10] ~ " is not 00-23") }}
        {%- endif -%}
        {%- set first = weblogs._plan_moment('new_rows.first_ingested_at_us', row.get('first_ingested_at_us')) -%}
        {%- do checked.append({
            'event_date': day, 'event_hour': row.get('event_hour'),
            'first_ingested_at': first.strftime('%Y-%m-%d %H:%M:%S.%f'),
        }) -%}
    {%- endfor -%}
    {{ return(checked if patch else []) }}
{% endmacro %}


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


{#- To the millisecond (Athena's timestamp precision): the run log's watermarks are whole milliseconds. -#}
{% macro _timestamp_literal(value) -%}
    cast('{{ value.strftime('%Y-%m-%d %H:%M:%S') }}.{{ '%03d' % (value.microsecond // 1000) }}' as timestamp)
{%- endmacro %}


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
    {#- The per-run table their pre-hooks read: rebuilt by every run (one run's rows), so built, not kept. -#}
    {%- if 'model.weblogs.int_run_session_events' not in selected_resources -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for name in weblogs.patched_models() -%}
        {%- if ('model.weblogs.' ~ name) not in selected_resources
            or adapter.get_relation(database=target.database, schema=target.schema, identifier=name) is none -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{% endmacro %}


{#- The persisted models a patched run updates session by session. -#}
{% macro patched_models() %}
    {{ return([
        'int_run_sessions', 'int_run_page_views', 'int_run_session_event_values',
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
