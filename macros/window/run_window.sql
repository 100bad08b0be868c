{#-
    The run window: vars `startdate` / `enddate` (YYYY-MM-DD, inclusive, UTC).

    Every model that needs the window calls `weblogs.run_window()`, and the
    project's on-run-start hook calls `weblogs.validate_run_vars()`, so a bad
    value stops the run with one line that says what to pass before any SQL
    reaches the warehouse (at parse time already, as models are rendered).

    Default (no vars): the last `default_window_days` (7) complete UTC days
    before the run date, so a run without vars never scans the whole history.
-#}

{% macro _window_error(message) %}
    {{ exceptions.raise_compiler_error(
        "weblogs vars: " ~ message
        ~ " -- pass --vars '{startdate: YYYY-MM-DD, enddate: YYYY-MM-DD}' (inclusive, UTC, startdate <= enddate)"
    ) }}
{% endmacro %}


{% macro _parse_window_date(name, value) %}
    {%- set text = (value | string) | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ weblogs._window_error(name ~ "='" ~ text ~ "' is not a date in YYYY-MM-DD form") }}
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
    {{ return(parsed) }}
{% endmacro %}


{% macro run_window() %}
    {%- set start_var = var('startdate', none) -%}
    {%- set end_var = var('enddate', none) -%}
    {%- if start_var is none and end_var is none -%}
        {%- set days = var('default_window_days', 7) | int -%}
        {%- set today = run_started_at.date() -%}
        {%- set end_date = today - modules.datetime.timedelta(days=1) -%}
        {%- set start_date = today - modules.datetime.timedelta(days=days) -%}
    {%- elif start_var is none or end_var is none -%}
        {{ weblogs._window_error("pass both startdate and enddate, or neither for the default window") }}
    {%- else -%}
        {%- set start_date = weblogs._parse_window_date('startdate', start_var) -%}
        {%- set end_date = weblogs._parse_window_date('enddate', end_var) -%}
        {%- if end_date < start_date -%}
            {{ weblogs._window_error("enddate " ~ end_date ~ " is before startdate " ~ start_date) }}
        {%- endif -%}
    {%- endif -%}
    {{ return({
        'start': start_date,
        'end': end_date,
        'read_start': start_date - modules.datetime.timedelta(days=1),
        'read_end': end_date + modules.datetime.timedelta(days=1),
    }) }}
{% endmacro %}


{% macro validate_run_vars() %}
    {#- on-run-start: runs before any model; returns no SQL. -#}
    {%- set window = weblogs.run_window() -%}
    {%- do weblogs.lake_root() -%}
    {%- if execute -%}
        {{ log("weblogs window: sessions from " ~ window.start ~ " to " ~ window.end
            ~ " (reading event partitions " ~ window.read_start ~ " .. " ~ window.read_end ~ ")", info=true) }}
    {%- endif -%}
{% endmacro %}


{% macro window_days(read=false) %}
    {#- The window's days in order; with read=true, the days a run reads (one more each side). -#}
    {%- set window = weblogs.run_window() -%}
    {%- set first = window.read_start if read else window.start -%}
    {%- set last = window.read_end if read else window.end -%}
    {%- set days = [] -%}
    {%- for offset in range((last - first).days + 1) -%}
        {%- do days.append(first + modules.datetime.timedelta(days=offset)) -%}
    {%- endfor -%}
    {{ return(days) }}
{% endmacro %}


{% macro date_literal(value) -%}
    cast('{{ value }}' as date)
{%- endmacro %}


{% macro window_start() -%}
    {{ weblogs.date_literal(weblogs.run_window().start) }}
{%- endmacro %}


{% macro window_end() -%}
    {{ weblogs.date_literal(weblogs.run_window().end) }}
{%- endmacro %}
