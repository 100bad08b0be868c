{#-
    URL parsing for acquisition and pages (docs/contract.md, section 4), one
    macro per part. A part is dispatched only where the engines' SQL differs:
    `default__` is DuckDB, `athena__` is plain Trino SQL (Athena engine 3 and
    Trino run the same text), and `trino__` beside it takes the Athena form.
    Every argument is an SQL expression; names and lists come checked from
    macros/vars/vars.sql. Lambdas are written `x -> ...`, which DuckDB and Trino
    both read.
-#}

{#- The scheme and `://` of an absolute URL; the scheme is case-insensitive. -#}
{% macro url_scheme_pattern() -%}
    ^[A-Za-z][A-Za-z0-9+.-]*://
{%- endmacro %}


{#-
    `page_path` of a URL: fragment dropped, scheme and host (and port) of an
    absolute URL dropped, an empty path is `/`, one trailing `/` removed (not
    from `/`), and the query reduced to the items named in `page_query_params`,
    as written and in their order. Case and percent-encoding are kept.
-#}
{% macro url_page_path(url) -%}
    {#- The same SQL on every engine: DuckDB replaces the first match, Trino every
        match, and the anchored pattern matches once. -#}
    {%- set rest = "regexp_replace(split_part(" ~ url ~ ", '#', 1), '"
        ~ weblogs.url_scheme_pattern() ~ "[^/?]*', '')" -%}
    {{ weblogs._page_path_from_rest(rest) }}
{%- endmacro %}

{#- Path and kept query of what follows the host: portable SQL around the dispatched query filter. -#}
{% macro _page_path_from_rest(rest) -%}
    {%- set path = "split_part(" ~ rest ~ ", '?', 1)" -%}
    {%- set names = weblogs.validated_name_list('page_query_params') -%}
    (
        case
            when {{ path }} = '' then '/'
            when {{ path }} <> '/' and substr({{ path }}, length({{ path }})) = '/'
                then substr({{ path }}, 1, length({{ path }}) - 1)
            else {{ path }}
        end
        {%- if names | length > 0 %}
        || coalesce(
            '?' || nullif(
                {{ weblogs.url_query_items_kept(
                    "case when strpos(" ~ rest ~ ", '?') > 0 then substr(" ~ rest ~ ", strpos(" ~ rest ~ ", '?') + 1) end",
                    names
                ) }},
                ''
            ),
            ''
        )
        {%- endif %}
    )
{%- endmacro %}


{#- The query of a URL (after the first `?`, before any `#`), null without `?`. -#}
{% macro url_query(url) -%}
    (
        case
            when strpos(split_part({{ url }}, '#', 1), '?') > 0
                then substr(split_part({{ url }}, '#', 1), strpos(split_part({{ url }}, '#', 1), '?') + 1)
        end
    )
{%- endmacro %}


{#- The `&`-separated items of a query whose name is in `names`, joined with `&` (empty text when none). -#}
{% macro url_query_items_kept(query, names) %}
    {{ return(adapter.dispatch('url_query_items_kept', 'weblogs')(query, names)) }}
{% endmacro %}

{% macro default__url_query_items_kept(query, names) -%}
    array_to_string(
        list_filter(
            string_split({{ query }}, '&'),
            item -> split_part(item, '=', 1) in {{ weblogs.sql_name_list(names) }}
        ),
        '&'
    )
{%- endmacro %}

{% macro athena__url_query_items_kept(query, names) -%}
    array_join(
        filter(
            split({{ query }}, '&'),
            item -> split_part(item, '=', 1) in {{ weblogs.sql_name_list(names) }}
        ),
        '&'
    )
{%- endmacro %}

{% macro trino__url_query_items_kept(query, names) -%}
    {{ weblogs.athena__url_query_items_kept(query, names) }}
{%- endmacro %}


{#-
    The raw value of the first query item named `name` (text after its first
    `=`, empty when it has none); null when no item has that name.
-#}
{% macro url_query_parameter(query, name) %}
    {{ return(adapter.dispatch('url_query_parameter', 'weblogs')(query, name)) }}
{% endmacro %}

{% macro default__url_query_parameter(query, name) -%}
    list_extract(
        list_transform(
            list_filter(
                string_split({{ query }}, '&'),
                item -> split_part(item, '=', 1) = {{ weblogs.sql_string(name) }}
            ),
            item -> case when strpos(item, '=') > 0 then substr(item, strpos(item, '=') + 1) else '' end
        ),
        1
    )
{%- endmacro %}

{% macro athena__url_query_parameter(query, name) -%}
    element_at(
        transform(
            filter(
                split({{ query }}, '&'),
                item -> split_part(item, '=', 1) = {{ weblogs.sql_string(name) }}
            ),
            item -> case when strpos(item, '=') > 0 then substr(item, strpos(item, '=') + 1) else '' end
        ),
        1
    )
{%- endmacro %}

{% macro trino__url_query_parameter(query, name) -%}
    {{ weblogs.athena__url_query_parameter(query, name) }}
{%- endmacro %}


{#-
    Percent-decoding of a query value: `+` is a space, `%XY` (hex) is one
    byte, a `%` not followed by two hex digits stays as written; null when the
    decoded bytes are not valid UTF-8.
-#}
{% macro url_percent_decode(value) %}
    {{ return(adapter.dispatch('url_percent_decode', 'weblogs')(value)) }}
{% endmacro %}

{% macro default__url_percent_decode(value) -%}
    {%- set text = "replace(" ~ value ~ ", '+', ' ')" -%}
    try(decode(
        encode(split_part({{ text }}, '%', 1))
        || list_reduce(
            list_transform(
                list_slice(string_split({{ text }}, '%'), 2, -1),
                part -> case
                    when regexp_matches(part, '^[0-9A-Fa-f]{2}')
                        then unhex(substr(part, 1, 2)) || encode(substr(part, 3))
                    else encode('%' || part)
                end
            ),
            (acc, part) -> acc || part,
            encode('')
        )
    ))
{%- endmacro %}

{% macro athena__url_percent_decode(value) -%}
    {%- set text = "replace(" ~ value ~ ", '+', ' ')" -%}
    {%- set bytes = "to_utf8(split_part(" ~ text ~ ", '%', 1)) || reduce(slice(split(" ~ text
        ~ ", '%'), 2, 1000000), to_utf8(''), (acc, part) -> acc || case when regexp_like(part, '^[0-9A-Fa-f]{2}')"
        ~ " then from_hex(substr(part, 1, 2)) || to_utf8(substr(part, 3)) else to_utf8('%' || part) end, acc -> acc)" -%}
    {#- from_utf8 replaces invalid bytes: the round trip is equal only for valid UTF-8. -#}
    (
        case
            when to_utf8(from_utf8({{ bytes }})) = {{ bytes }} then from_utf8({{ bytes }})
        end
    )
{%- endmacro %}

{% macro trino__url_percent_decode(value) -%}
    {{ weblogs.athena__url_percent_decode(value) }}
{%- endmacro %}


{#- A campaign parameter's raw value decoded, trimmed of spaces, tabs, CR and LF, lower-cased; empty is null. -#}
{% macro url_campaign_value(raw_value) -%}
    nullif(
        lower(trim(
            {{ weblogs.url_percent_decode(raw_value) }},
            ' ' || chr(9) || chr(10) || chr(13)
        )),
        ''
    )
{%- endmacro %}


{#-
    The host of an absolute URL (userinfo and port left out), lower-cased,
    a leading `www.` removed; null when there is none.
-#}
{% macro url_host(url) -%}
    {#- The same SQL on every engine: regexp_extract gives '' (DuckDB) or null (Trino)
        when nothing matches, and nullif makes both null. -#}
    {%- set host = "lower(regexp_extract(" ~ url ~ ", '" ~ weblogs.url_scheme_pattern() ~ "([^/?#@]*@)?([^/?#:]*)', 2))" -%}
    nullif(case when {{ host }} like 'www.%' then substr({{ host }}, 5) else {{ host }} end, '')
{%- endmacro %}


{#- True when `host` is one of `domains` or ends with `.` + one of them (false for a null host or no domains). -#}
{% macro host_matches(host, domains) -%}
    {%- if domains | length == 0 -%}
        false
    {%- else -%}
        coalesce(
            {%- for domain in domains %}
            {{ host }} = {{ weblogs.sql_string(domain) }} or {{ host }} like {{ weblogs.sql_string('%.' ~ domain) }}{{ ' or' if not loop.last }}
            {%- endfor %},
            false
        )
    {%- endif -%}
{%- endmacro %}


{#- The referrer's host, null when it is internal (matches `site_hosts`). -#}
{% macro external_referrer_host(referrer) -%}
    case
        when not {{ weblogs.host_matches(weblogs.url_host(referrer), weblogs.validated_name_list('site_hosts')) }}
            then {{ weblogs.url_host(referrer) }}
    end
{%- endmacro %}


{#- The channel of a session: the first of the ten rules that holds (models/docs.md, channel_rules). -#}
{% macro session_channel(utm_source, utm_medium, referrer_host) -%}
    case
        when {{ utm_medium }} in ('cpc', 'ppc', 'paidsearch', 'paid_search') then 'paid_search'
        when {{ utm_medium }} in ('paid_social', 'paidsocial') then 'paid_social'
        when {{ utm_medium }} in ('display', 'banner', 'cpm') then 'display'
        when {{ utm_medium }} in ('email', 'e-mail', 'newsletter') then 'email'
        when {{ utm_medium }} in ('affiliate', 'affiliates') then 'affiliate'
        when
            {{ utm_medium }} in ('social', 'social-network', 'social_media', 'sm')
            or {{ weblogs.host_matches(referrer_host, weblogs.validated_name_list('social_domains')) }}
            then 'social'
        when {{ weblogs.host_matches(referrer_host, weblogs.validated_name_list('search_domains')) }}
            then 'organic_search'
        when {{ utm_source }} is not null or {{ utm_medium }} is not null then 'other_campaign'
        when {{ referrer_host }} is not null then 'referral'
        else 'direct'
    end
{%- endmacro %}
