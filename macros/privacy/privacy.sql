{#-
    Privacy and hygiene (docs/contract.md, section 7): the bot rule and the
    redaction of secrets in URLs. Names and patterns come checked from
    macros/vars/vars.sql and reach SQL only as literals built from them.
-#}

{#-
    A regular expression matching one checked query parameter name, ASCII
    case ignored: each letter is a class of its two cases (`(?i)` would also
    fold non-ASCII letters, e.g. the long s into `s`), the other characters
    allowed in a name are escaped where a regex would read them.
-#}
{% macro _ascii_caseless_pattern(name) -%}
    {%- set out = [] -%}
    {%- for character in name -%}
        {%- if character in 'abcdefghijklmnopqrstuvwxyz' -%}
            {%- do out.append('[' ~ character ~ (character | upper) ~ ']') -%}
        {%- elif character in '.+[]' -%}
            {%- do out.append('\\' ~ character) -%}
        {%- else -%}
            {%- do out.append(character) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- out | join('') -}}
{%- endmacro %}


{#- The item pattern of the redacted names: a delimiter, a listed name, its first `=` and the value. -#}
{% macro _redacted_item_pattern(names) -%}
    {%- set alternatives = [] -%}
    {%- for name in names -%}
        {%- do alternatives.append(weblogs._ascii_caseless_pattern(name)) -%}
    {%- endfor -%}
    ([?&#])({{ alternatives | join('|') }})=[^?&#]*
{%- endmacro %}


{#-
    `url` with its secrets redacted: in the text from the first `?` or `#`
    on, every item (a maximal run of characters other than `?`, `&`, `#`)
    whose name (text before its first `=`) is in `redacted_query_params`,
    ASCII case ignored, keeps `name=` and gets the value `redacted`. The text
    before the first `?` or `#` and every other item stay as they are; null
    stays null. Applied where a mart outputs a URL or path column, after any
    matching on the path (a goal's `page_path` is matched before redaction).
-#}
{% macro redact_url(url) -%}
    {%- set names = weblogs.validated_name_list('redacted_query_params') -%}
    {%- if names | length == 0 -%}
        ({{ url }})
    {%- else -%}
        {%- set head = "regexp_extract(" ~ url ~ ", '^[^?#]*')" -%}
        (
            {{ head }}
            || {{ weblogs.redact_items(
                "substr(" ~ url ~ ", length(" ~ head ~ ") + 1)",
                weblogs._redacted_item_pattern(names)
            ) }}
        )
    {%- endif -%}
{%- endmacro %}


{#-
    `text` with every match of the redacted item `pattern` (groups 1 and 2: the
    delimiter and the name) replaced by `delimiter name=redacted`: the one part of
    `redact_url` whose SQL differs by engine (how a replacement names a group, and
    whether every match is replaced).
-#}
{% macro redact_items(text, pattern) %}
    {{ return(adapter.dispatch('redact_items', 'weblogs')(text, pattern)) }}
{% endmacro %}

{#- DuckDB replaces the first match unless given 'g'; `\1` is group 1 of the match. -#}
{% macro default__redact_items(text, pattern) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '\1\2=redacted', 'g')
{%- endmacro %}

{#- Trino replaces every match; `$n` is a group of the match. -#}
{% macro athena__redact_items(text, pattern) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '$1$2=redacted')
{%- endmacro %}


{#- Trino is Athena engine version 3: the Athena SQL (macros/cross_db/materialization.sql). -#}
{% macro trino__redact_items(text, pattern) -%}
    {{ weblogs.athena__redact_items(text, pattern) }}
{%- endmacro %}


{#-
    True when a session's browser (section 3: trimmed, lower-cased, from its
    first event) contains one of `bot_browser_patterns`; false with no
    patterns. `strpos` compares plain text on both engines (no LIKE wildcards).
-#}
{% macro is_bot_browser(browser) -%}
    {%- set patterns = weblogs.validated_name_list('bot_browser_patterns') -%}
    {%- if patterns | length == 0 -%}
        false
    {%- else -%}
        coalesce(
            {%- for pattern in patterns %}
            strpos({{ browser }}, {{ weblogs.sql_string(pattern) }}) > 0{{ ' or' if not loop.last }}
            {%- endfor %},
            false
        )
    {%- endif -%}
{%- endmacro %}
