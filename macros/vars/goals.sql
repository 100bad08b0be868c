{#-
    The var `conversion_goals` (docs/contract.md, section 6; models/docs.md,
    goal_rules): a list of goals, each `{name, event_type}` or `{name,
    page_path}`. Checked before any SQL runs, like every var: any other shape
    stops the run with one line naming the var. The checked goals reach SQL
    only as string literals (weblogs.sql_string).
-#}

{#- The contract's event types (weblogs/core/contract/schema.py EVENT_TYPES; a test ties them). -#}
{% macro allowed_event_types() %}
    {{ return([
        'page_view', 'click', 'scroll', 'search', 'form_submit', 'add_to_cart',
        'remove_from_cart', 'checkout', 'purchase', 'login', 'logout', 'signup',
        'video_play', 'loyalty_signup', 'loyalty_redeem', 'review',
    ]) }}
{% endmacro %}


{#- The checked goals: a list of dicts {name, event_type, page_path} (one of the last two none). -#}
{% macro validated_conversion_goals(name='conversion_goals') %}
    {%- set value = var(name) -%}
    {%- set expected = "a list of at most 100 goals, each {name: <1-64 of a-z 0-9 _, unique>,"
        ~ " event_type: <an allowed event type>} or {name: ..., page_path: </...>}" -%}
    {%- if value is none -%}
        {%- set value = [] -%}
    {%- endif -%}
    {%- if value is string or value is mapping or value is not iterable or value | length > 100 -%}
        {{ weblogs._var_error(name, value, expected) }}
    {%- endif -%}
    {%- set goals = [] -%}
    {%- set names = [] -%}
    {%- for item in value -%}
        {%- if item is not mapping or item.get('name') is not string -%}
            {{ weblogs._var_error(name, item, expected) }}
        {%- endif -%}
        {%- set keys = item.keys() | list | sort -%}
        {%- if keys not in [['event_type', 'name'], ['name', 'page_path']] -%}
            {{ weblogs._var_error(name, item, expected) }}
        {%- endif -%}
        {%- if not modules.re.fullmatch('[a-z0-9_]{1,64}', item['name']) or item['name'] in names -%}
            {{ weblogs._var_error(name, item, expected) }}
        {%- endif -%}
        {%- do names.append(item['name']) -%}
        {%- set event_type = item.get('event_type') -%}
        {%- set path = item.get('page_path') -%}
        {%- if 'event_type' in keys and (event_type is not string or event_type not in weblogs.allowed_event_types()) -%}
            {{ weblogs._var_error(name, item, expected) }}
        {%- endif -%}
        {#- A path as page_path writes it: from `/`, printable, at most the URL limit. -#}
        {%- if 'page_path' in keys and (path is not string
            or not modules.re.fullmatch('/[^\\x00-\\x1f\\x7f]{0,2047}', path)) -%}
            {{ weblogs._var_error(name, item, expected) }}
        {%- endif -%}
        {%- do goals.append({
            'name': item['name'],
            'event_type': event_type if 'event_type' in keys else none,
            'page_path': path if 'page_path' in keys else none,
        }) -%}
    {%- endfor -%}
    {{ return(goals) }}
{% endmacro %}


{#-
    The checked goals as a relation `(goal, goal_event_type, goal_page_path)`,
    one row per goal; no goal: no row. Literals only, quotes doubled.
-#}
{% macro conversion_goals_relation() %}
    {%- set goals = weblogs.validated_conversion_goals() -%}
    {%- set rows = [] -%}
    {%- for goal in goals -%}
        {%- do rows.append(
            "select " ~ weblogs.sql_string(goal.name) ~ " as goal, "
            ~ (weblogs.sql_string(goal.event_type) if goal.event_type is not none else "cast(null as varchar)")
            ~ " as goal_event_type, "
            ~ (weblogs.sql_string(goal.page_path) if goal.page_path is not none else "cast(null as varchar)")
            ~ " as goal_page_path"
        ) -%}
    {%- endfor -%}
    {%- if not rows -%}
        {%- do rows.append(
            "select cast(null as varchar) as goal, cast(null as varchar) as goal_event_type,"
            ~ " cast(null as varchar) as goal_page_path where 1 = 0"
        ) -%}
    {%- endif -%}
    {{ return("(" ~ rows | join(" union all ") ~ ")") }}
{% endmacro %}
