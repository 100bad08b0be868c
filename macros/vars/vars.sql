{#-
    Every var other than the window is checked here, and reaches SQL only as
    the literal these macros render from the checked value: a value of the
    wrong type or outside its range (a cap of 0, a negative weight, SQL text)
    stops the run with one line naming the var. The ranges are those for
    which a `dbt build` on valid data passes (docs/analytics.md, Vars).
-#}

{#- name: [kind, minimum, maximum, minimum excluded] -#}
{% macro var_rules() %}
    {{ return({
        'engagement_weight_duration': ['number', 0, 1, false],
        'engagement_weight_events': ['number', 0, 1, false],
        'engagement_weight_pages': ['number', 0, 1, false],
        'engagement_cap_duration_seconds': ['number', 0, 1000000000, true],
        'engagement_cap_events': ['number', 0, 1000000000, true],
        'engagement_cap_pages': ['number', 0, 1000000000, true],
        'default_window_days': ['integer', 1, weblogs.max_window_days(), false],
    }) }}
{% endmacro %}


{% macro _var_error(name, value, expected) %}
    {{ exceptions.raise_compiler_error(
        "weblogs vars: " ~ name ~ "=" ~ ((value | string)[:60] | tojson) ~ " is not valid: expected " ~ expected
    ) }}
{% endmacro %}


{#- The checked value of a numeric var (a Python number). -#}
{% macro validated_var(name) %}
    {%- set rule = weblogs.var_rules()[name] -%}
    {%- set value = var(name) -%}
    {%- set expected = ('an integer' if rule[0] == 'integer' else 'a number') ~ ' '
        ~ ('> ' if rule[3] else '>= ') ~ rule[1] ~ ' and <= ' ~ rule[2] -%}
    {%- if value is string and modules.re.match('^[0-9]{1,12}([.][0-9]{1,12})?$', value | trim) -%}
        {%- set value = (value | trim) | float -%}
    {%- elif value is boolean or value is not number -%}
        {{ weblogs._var_error(name, value, expected) }}
    {%- endif -%}
    {%- if value != value or value < rule[1] or value > rule[2] or (rule[3] and value == rule[1]) -%}
        {{ weblogs._var_error(name, value, expected) }}
    {%- endif -%}
    {%- if rule[0] == 'integer' -%}
        {%- if value != (value | int) -%}
            {{ weblogs._var_error(name, value, expected) }}
        {%- endif -%}
        {{ return(value | int) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}


{#- A numeric var as a SQL double literal (the same text on DuckDB and Trino). -#}
{% macro number_literal(name) -%}
    cast({{ weblogs.validated_var(name) | float }} as double)
{%- endmacro %}


{#- The loyalty event types: a list of 1-50 event type names (lower-case letters, digits, `_`). -#}
{% macro validated_loyalty_event_types(name='loyalty_event_types') %}
    {%- set value = var(name) -%}
    {%- set expected = "a list of 1 to 50 event types (lower-case letters, digits and _, at most 64 characters)" -%}
    {%- if value is string or value is mapping or value is not iterable or value | length == 0 or value | length > 50 -%}
        {{ weblogs._var_error(name, value, expected) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for item in value -%}
        {%- if item is not string or not modules.re.match('^[a-z][a-z0-9_]{0,63}$', item | trim | lower) -%}
            {{ weblogs._var_error(name, item, expected) }}
        {%- endif -%}
        {%- do names.append(item | trim | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}

{#- The old name of validated_loyalty_event_types, kept for callers outside this project. -#}
{% macro validated_event_types(name='loyalty_event_types') %}
    {{ return(weblogs.validated_loyalty_event_types(name)) }}
{% endmacro %}


{#- on-run-start and the models: every var checked, the weights together too (a score stays within 0-100). -#}
{% macro validate_all_vars() %}
    {%- set total = [0] -%}
    {%- for name in weblogs.var_rules() -%}
        {%- set value = weblogs.validated_var(name) -%}
        {%- if name.startswith('engagement_weight_') -%}
            {%- do total.append(total.pop() + value) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if total[0] > 1.000000001 -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: engagement_weight_duration + engagement_weight_events + engagement_weight_pages = "
            ~ total[0] ~ " is not valid: expected a sum <= 1 (the score would exceed 100)"
        ) }}
    {%- endif -%}
    {%- do weblogs.validated_loyalty_event_types() -%}
    {%- for name in weblogs.name_list_rules() -%}
        {%- do weblogs.validated_name_list(name) -%}
    {%- endfor -%}
    {%- do weblogs.validated_conversion_goals() -%}
{% endmacro %}


{#-
    The list vars of acquisition and pages (docs/contract.md, section 4) and of
    privacy (section 7): name: [pattern of one item, what the message says,
    maximum items, lower-cased]. Query parameter names of page_query_params
    keep their case (matched as written); hosts and domains are compared
    lower-cased, as the parsed hosts are; redacted names are matched ignoring
    ASCII case, so they are kept lower-cased; bot patterns must be written
    lower-case (a browser is compared lower-cased), an upper-case letter stops the run.
-#}
{% macro name_list_rules() %}
    {%- set domain = '^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$' -%}
    {%- set domain_text = 'a list of at most 500 domain names (letters, digits, - and ., e.g. example.com)' -%}
    {{ return({
        'page_query_params': [
            '^[A-Za-z0-9_.~+%\\[\\]-]{1,128}$',
            'a list of at most 50 query parameter names (letters, digits and _ . ~ + % [ ] -, at most 128 characters)',
            50, false,
        ],
        'site_hosts': [domain, domain_text, 500, true],
        'search_domains': [domain, domain_text, 500, true],
        'social_domains': [domain, domain_text, 500, true],
        'redacted_query_params': [
            '^[a-z0-9_.~+%\\[\\]-]{1,128}$',
            'a list of at most 100 query parameter names (letters, digits and _ . ~ + % [ ] -, at most 128 characters)',
            100, true,
        ],
        'bot_browser_patterns': [
            '^[ !-@\\[-~]{1,64}$',
            'a list of at most 100 lower-case texts of 1 to 64 printable ASCII characters',
            100, false,
        ],
    }) }}
{% endmacro %}


{#- The checked items of a list var (duplicates dropped, first kept). -#}
{% macro validated_name_list(name) %}
    {%- set rule = weblogs.name_list_rules()[name] -%}
    {%- set value = var(name) -%}
    {%- if value is none -%}
        {%- set value = [] -%}
    {%- endif -%}
    {%- if value is string or value is mapping or value is not iterable or value | length > rule[2] -%}
        {{ weblogs._var_error(name, value, rule[1]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for item in value -%}
        {%- if item is not string -%}
            {{ weblogs._var_error(name, item, rule[1]) }}
        {%- endif -%}
        {%- set text = (item | trim | lower) if rule[3] else (item | trim) -%}
        {%- if not modules.re.match(rule[0], text) -%}
            {{ weblogs._var_error(name, item, rule[1]) }}
        {%- endif -%}
        {%- if text not in names -%}
            {%- do names.append(text) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{#- A checked list of names as a SQL list of string literals, case kept (never empty: callers test the length). -#}
{% macro sql_name_list(values) -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append(weblogs.sql_string(value)) -%}
    {%- endfor -%}
    ({{ quoted | join(', ') }})
{%- endmacro %}
