{#-
    The run window: the session dates a run rebuilds, and the event days it reads.

    Three ways to say which session dates (docs/analytics.md, Running the models):
    - a range: vars `startdate` / `enddate` (YYYY-MM-DD, inclusive, UTC);
    - the scheduled run: var `run_date` (YYYY-MM-DD) alone: the session dates
      that received events since the previous successful scheduled run
      (`weblogs.scheduled_plan`, which checks the plan `weblogs models` passes as var `run_plan`);
    - nothing: the last `default_window_days` (7) complete UTC days before today.

    Every model that needs the window calls `weblogs.run_window()`, so a bad
    value stops the run with one line naming the var before any SQL reaches
    the warehouse (at parse time already, as models are rendered). A window
    is a sorted list of dates; ranges in SQL are written as `between` over its
    runs of consecutive days, so a year of dates stays a few hundred bytes.
-#}

{#- The longest window a run accepts: a year fits in memory on DuckDB and in one Athena query. -#}
{% macro max_window_days() %}
    {{ return(366) }}
{% endmacro %}


{% macro _window_error(message) %}
    {{ exceptions.raise_compiler_error(
        "weblogs vars: " ~ message
        ~ " -- pass --vars '{startdate: YYYY-MM-DD, enddate: YYYY-MM-DD}' (inclusive, UTC, startdate <= enddate)"
        ~ " or --vars '{run_date: YYYY-MM-DD}' for the scheduled run"
    ) }}
{% endmacro %}


{% macro _parse_window_date(name, value) %}
    {%- set text = (value | string) | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ weblogs._window_error(name ~ "='" ~ text[:40] ~ "' is not a date in YYYY-MM-DD form") }}
    {%- endif -%}
    {#-
        Jinja has no try around strptime, so the calendar is datetime's own:
        day d of month m is the first of the month plus d - 1 days, and it is a
        real date when that lands in the same month (2026-02-30 lands in March).
    -#}
    {%- set y = text[0:4] | int -%}
    {%- set m = text[5:7] | int -%}
    {%- set d = text[8:10] | int -%}
    {%- if y < 1 or m < 1 or m > 12 or d < 1 or d > 31 -%}
        {{ weblogs._window_error(name ~ "='" ~ text ~ "' is not a real calendar date") }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date(y, m, 1) + modules.datetime.timedelta(days=d - 1) -%}
    {%- if parsed.month != m -%}
        {{ weblogs._window_error(name ~ "='" ~ text ~ "' is not a real calendar date") }}
    {%- endif -%}
    {#- The contract's events start in 2000; the read window needs one day each side. -#}
    {%- if y < 2000 or y > 2999 -%}
        {{ weblogs._window_error(name ~ "='" ~ text ~ "' is outside 2000-01-01 .. 2999-12-31") }}
    {%- endif -%}
    {{ return(modules.datetime.date(y, m, d)) }}
{% endmacro %}


{% macro _date_span(first, last) %}
    {%- set days = [] -%}
    {%- for offset in range((last - first).days + 1) -%}
        {%- do days.append(first + modules.datetime.timedelta(days=offset)) -%}
    {%- endfor -%}
    {{ return(days) }}
{% endmacro %}


{% macro run_window() %}
    {#-
        Computed once per dbt invocation (it queries the arrivals, the run log and
        int_run_sessions on a scheduled run): kept in the invocation's graph, so
        every model, hook and test of the run sees the plan taken before any
        model ran, and Athena gets those queries once, not once per model.
    -#}
    {%- set cache_key = 'weblogs_run_window_' ~ invocation_id -%}
    {%- if execute and cache_key in graph -%}
        {{ return(graph[cache_key]) }}
    {%- endif -%}
    {%- do weblogs.validate_all_vars() -%}
    {%- set start_var = var('startdate', none) -%}
    {%- set end_var = var('enddate', none) -%}
    {%- set run_date_var = var('run_date', none) -%}
    {%- set one_day = modules.datetime.timedelta(days=1) -%}
    {%- set plan = {
        'mode': 'range', 'run_date': none, 'arrivals_from': none, 'arrivals_to': none,
        'patch_dates': [], 'new_rows': [],
    } -%}
    {%- if run_date_var is not none -%}
        {%- if start_var is not none or end_var is not none -%}
            {{ weblogs._window_error("pass run_date alone, or startdate and enddate, not both") }}
        {%- endif -%}
        {%- set run_date = weblogs._parse_window_date('run_date', run_date_var) -%}
        {%- set scheduled = weblogs.scheduled_plan(run_date) -%}
        {%- set dates = scheduled.dates -%}
        {%- do plan.update(scheduled) -%}
        {%- do plan.update({'mode': 'scheduled', 'run_date': run_date}) -%}
    {%- elif start_var is none and end_var is none -%}
        {%- set days = weblogs.validated_var('default_window_days') -%}
        {%- set today = run_started_at.date() -%}
        {%- set dates = weblogs._date_span(today - modules.datetime.timedelta(days=days), today - one_day) -%}
        {%- do plan.update({'mode': 'default'}) -%}
    {%- elif start_var is none or end_var is none -%}
        {{ weblogs._window_error("pass both startdate and enddate, or neither for the default window") }}
    {%- else -%}
        {%- set start_date = weblogs._parse_window_date('startdate', start_var) -%}
        {%- set end_date = weblogs._parse_window_date('enddate', end_var) -%}
        {%- if end_date < start_date -%}
            {{ weblogs._window_error("enddate " ~ end_date ~ " is before startdate " ~ start_date) }}
        {%- endif -%}
        {%- set length = (end_date - start_date).days + 1 -%}
        {%- if length > weblogs.max_window_days() -%}
            {%- set split_end = start_date + modules.datetime.timedelta(days=weblogs.max_window_days() - 1) -%}
            {{ exceptions.raise_compiler_error(
                "weblogs vars: the window " ~ start_date ~ " .. " ~ end_date ~ " has " ~ length
                ~ " days, more than " ~ weblogs.max_window_days() ~ " -- split it into runs of at most "
                ~ weblogs.max_window_days() ~ " days, e.g. --vars '{startdate: " ~ start_date
                ~ ", enddate: " ~ split_end ~ "}', then from " ~ (split_end + one_day) ~ " on"
            ) }}
        {%- endif -%}
        {%- set dates = weblogs._date_span(start_date, end_date) -%}
    {%- endif -%}
    {%- set read = [] -%}
    {%- for day in dates -%}
        {%- for neighbour in [day - one_day, day, day + one_day] -%}
            {%- if neighbour not in read -%}{%- do read.append(neighbour) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set read = read | sort -%}
    {%- set full_read = [] -%}
    {%- for day in dates if day not in plan.patch_dates -%}
        {%- for neighbour in [day - one_day, day, day + one_day] -%}
            {%- if neighbour not in full_read -%}{%- do full_read.append(neighbour) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do plan.update({
        'full_read_dates': full_read | sort,
        'dates': dates,
        'full_dates': dates | reject('in', plan.patch_dates) | list,
        'read_dates': read,
        'start': dates[0] if dates else none,
        'end': dates[-1] if dates else none,
        'read_start': read[0] if read else none,
        'read_end': read[-1] if read else none,
    }) -%}
    {%- if execute -%}
        {%- do graph.update({cache_key: plan}) -%}
    {%- endif -%}
    {{ return(plan) }}
{% endmacro %}


{% macro validate_run_vars() %}
    {#- on-run-start: runs before any model; returns no SQL. -#}
    {%- do weblogs.validate_all_vars() -%}
    {%- set window = weblogs.run_window() -%}
    {%- do weblogs.lake_root() -%}
    {%- do weblogs.check_full_refresh() -%}
    {%- if execute -%}
        {%- if window.mode == 'scheduled' -%}
            {{ log("weblogs scheduled run " ~ window.run_date ~ ": events that arrived from "
                ~ window.arrivals_from ~ " to " ~ window.arrivals_to ~ " touched "
                ~ window.dates | length ~ " session dates: "
                ~ (weblogs.date_runs_text(window.dates) or 'none')
                ~ ((" (sessions from " ~ window.start ~ " to " ~ window.end ~ ")") if window.dates else '')
                ~ ((", of which patched session by session (late): "
                    ~ weblogs.date_runs_text(window.patch_dates)) if window.patch_dates else ''),
                info=true) }}
        {%- elif window.dates -%}
            {{ log("weblogs window: sessions from " ~ window.start ~ " to " ~ window.end
                ~ " (reading event partitions " ~ window.read_start ~ " .. " ~ window.read_end ~ ")", info=true) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{% macro window_days(read=false) %}
    {#- The window's session dates in order; with read=true, the days a run reads (one more each side). -#}
    {%- set window = weblogs.run_window() -%}
    {{ return(window.read_dates if read else window.dates) }}
{% endmacro %}


{#- Consecutive days grouped: [[first, last], ...]. -#}
{% macro date_runs(days) %}
    {%- set runs = [] -%}
    {%- for day in days -%}
        {%- if runs and (day - runs[-1][1]).days == 1 -%}
            {%- do runs[-1].pop() -%}
            {%- do runs[-1].append(day) -%}
        {%- else -%}
            {%- do runs.append([day, day]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(runs) }}
{% endmacro %}


{% macro date_runs_text(days) %}
    {%- set parts = [] -%}
    {%- for run in weblogs.date_runs(days) -%}
        {%- do parts.append(run[0] ~ ('' if run[0] == run[1] else ' .. ' ~ run[1])) -%}
    {%- endfor -%}
    {{ return(parts | join(', ')) }}
{% endmacro %}


{% macro date_literal(value) -%}
    cast('{{ value.strftime('%Y-%m-%d') if value is not string else value }}' as date)
{%- endmacro %}


{#-
    `expression` (a date) is one of the window's session dates (read=true: one
    of the days the run reads). An empty window matches nothing.
-#}
{% macro in_window(expression, read=false) -%}
    {{ weblogs.in_days(expression, weblogs.window_days(read=read)) }}
{%- endmacro %}


{#- `expression` (a date) is one of `days` (sorted dates); no day matches nothing. -#}
{% macro in_days(expression, days) -%}
    {%- set runs = weblogs.date_runs(days) -%}
    {%- if runs | length == 0 -%}
        (1 = 0)
    {%- else -%}
        (
        {%- for run in runs -%}
            {{ ' or ' if not loop.first }}{{ expression }} between {{ weblogs.date_literal(run[0]) }} and {{ weblogs.date_literal(run[1]) }}
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}


{% macro window_start() -%}
    {{ weblogs.date_literal(weblogs.run_window().start) }}
{%- endmacro %}


{% macro window_end() -%}
    {{ weblogs.date_literal(weblogs.run_window().end) }}
{%- endmacro %}


{#-
    The rows a run rebuilds (docs/analytics.md, Late data): `expression` (a
    date) is a session date rebuilt whole, or a patched session date and the
    row's session is touched (`touched`, a boolean expression: its session_id
    has an event that arrived in this run). Without patched dates it is
    `in_window(expression)`.
-#}
{% macro in_rebuilt(expression, touched) -%}
    {%- set window = weblogs.run_window() -%}
    {%- if not window.patch_dates -%}
        {{ weblogs.in_window(expression) }}
    {%- else -%}
        ({{ weblogs.in_days(expression, window.full_dates) }} or ({{ weblogs.in_days(expression, window.patch_dates) }} and {{ touched }}))
    {%- endif -%}
{%- endmacro %}


{#-
    Rows that arrived in this run on a late date (the `new_rows` of the plan):
    in an event hour the arrivals named and ingested at or after that hour's
    earliest `first_ingested_at`. Over the source's columns (year, month, day,
    hour, ingested_at), before deduplication. None without patched dates.
-#}
{% macro arrived_in_run() -%}
    {%- set rows = weblogs.run_window().new_rows -%}
    {%- if not rows -%}
        (1 = 0)
    {%- else -%}
        (
        {%- for row in rows -%}
            {{ ' or ' if not loop.first }}(year = '{{ row.event_date.strftime('%Y') }}' and month = '{{ row.event_date.strftime('%m') }}' and day = '{{ row.event_date.strftime('%d') }}' and hour = '{{ row.event_hour }}' and cast(ingested_at as timestamp) >= cast('{{ row.first_ingested_at }}' as timestamp))
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}


{#-
    The event hours of `arrived_in_run`, on the partition columns alone (year, month,
    day, hour): with it beside `arrived_in_run`, the engine opens only those hours'
    files (a predicate that also tests `ingested_at` prunes no partition). None
    without patched dates.
-#}
{% macro arrived_hours_filter() -%}
    {%- set by_day = {} -%}
    {%- set order = [] -%}
    {%- for row in weblogs.run_window().new_rows -%}
        {%- set key = row.event_date.strftime('%Y-%m-%d') -%}
        {%- if key not in by_day -%}
            {%- do by_day.update({key: []}) -%}
            {%- do order.append(key) -%}
        {%- endif -%}
        {%- if "'" ~ row.event_hour ~ "'" not in by_day[key] -%}
            {%- do by_day[key].append("'" ~ row.event_hour ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not order -%}
        (1 = 0)
    {%- else -%}
        (
        {%- for key in order -%}
            {{ ' or ' if not loop.first }}(year = '{{ key[0:4] }}' and month = '{{ key[5:7] }}' and day = '{{ key[8:10] }}' and hour in ({{ by_day[key] | join(', ') }}))
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}


{#-
    The touched-session flag of a row (see stg_weblogs__events): the column
    `in_touched_session` when the run patches late dates, else false, so unit
    tests and range runs never need the column in their inputs.
-#}
{% macro touched_flag(column='in_touched_session') -%}
    {{ column if weblogs.run_window().patch_dates else 'false' }}
{%- endmacro %}
