{#-
    One row per session whose session_date (UTC date of its first event) is a
    session date of the window, with every per-session rule of
    docs/analytics.md. Ephemeral: each model that needs sessions computes them
    from the events of its own run, never from a table an earlier run left.
-#}
{%- set loyalty_event_types = weblogs.validated_loyalty_event_types() %}
with

session_events as (

    select * from {{ weblogs.run_relation('int_session_events') }}

),

events as (

    select * from session_events
    where in_session

),

sessions as (

    -- The first and last event's values are ordered by event_order, the events'
    -- position in session order within their session_id (int_session_events): the same
    -- order as (event_timestamp, event_id), compared as one integer.
    select
        session_id,
        {{ weblogs.value_at_last('user_id', when='not is_anonymous_user', key='event_order') }}
            as last_known_user_id,
        {{ weblogs.values_at_first(
            ['device_type', 'browser', 'event_type', 'page_url', 'referrer', 'os', 'country'],
            key='event_order'
        ) }} as first_event,
        {{ weblogs.values_at_last(['user_id', 'event_type', 'page_url'], key='event_order') }}
            as last_event,
        min(case when is_anonymous_user then 1 else 0 end) = 1 as is_anonymous_session,
        min(event_timestamp) as session_start,
        max(event_timestamp) as session_end,
        count(*) as total_events,
        count(distinct page_url) as unique_pages,
        count(case when event_type = 'page_view' then 1 end) as page_views,
        count(
            case when event_type in {{ weblogs.sql_string_list(loyalty_event_types) }} then 1 end
        ) as loyalty_interactions,
        -- checkout_count: the checkouts of the session_id up to the event, in session
        -- order (int_session_events). At the first add_to_cart it counts the checkouts
        -- before it; a larger count at the session's last event means a checkout after
        -- it, and at a purchase a checkout between the two.
        min(case when event_type = 'add_to_cart' then checkout_count end)
            as checkouts_before_first_add_to_cart,
        count(case when event_type = 'add_to_cart' then 1 end) > 0 as reached_add_to_cart,
        max(checkout_count) as checkouts_at_end,
        max(case when event_type = 'purchase' then checkout_count end)
            as checkouts_before_last_purchase,
        count(case when event_type = 'purchase' then 1 end) as purchases,
        max(case when {{ weblogs.touched_flag() }} then 1 else 0 end) = 1 as in_touched_session,
        -- Exact: the values as decimals (weblogs.money_value), rounded once in final.
        sum(case when event_type = 'purchase' then {{ weblogs.money_value('value') }} end)
            as purchase_value,
        {{ weblogs.value_at_first('client_id', when='client_id is not null', key='event_order') }}
            as client_id
    from events
    group by session_id, session_start_at

),

measured as (

    select
        session_id,
        last_known_user_id,
        last_event.user_id as last_user_id,
        is_anonymous_session,
        first_event.device_type,
        first_event.browser,
        session_start,
        session_end,
        total_events,
        unique_pages,
        page_views,
        first_event.event_type as entry_event_type,
        first_event.page_url as entry_page,
        last_event.event_type as exit_event_type,
        last_event.page_url as exit_page,
        loyalty_interactions,
        first_event.referrer as landing_referrer,
        -- A checkout after the first add_to_cart; a purchase after the first such checkout:
        -- more checkouts at the last purchase than at the first add_to_cart.
        reached_add_to_cart,
        coalesce(checkouts_at_end > checkouts_before_first_add_to_cart, false) as reached_checkout,
        coalesce(checkouts_before_last_purchase > checkouts_before_first_add_to_cart, false)
            as converted,
        purchases,
        in_touched_session,
        first_event.os as first_os,
        first_event.country as first_country,
        purchase_value,
        client_id,
        cast(session_start as date) as session_date,
        -- date_diff(unit, start, end) is the same function on DuckDB and Trino.
        cast(date_diff('millisecond', session_start, session_end) as double) / 1000
            as session_duration_seconds
    from sessions

),

landing as (

    select
        *,
        {{ weblogs.url_query('entry_page') }} as landing_query
    from measured

),

campaign as (

    select
        *,
        {{ weblogs.url_query_parameter('landing_query', 'utm_source') }} as raw_utm_source,
        {{ weblogs.url_query_parameter('landing_query', 'utm_medium') }} as raw_utm_medium,
        {{ weblogs.url_query_parameter('landing_query', 'utm_campaign') }} as raw_utm_campaign
    from landing

),

acquired as (

    select
        *,
        {{ weblogs.url_page_path('entry_page') }} as landing_page_path,
        {{ weblogs.external_referrer_host('landing_referrer') }} as referrer_host,
        {{ weblogs.url_campaign_value('raw_utm_source') }} as utm_source,
        {{ weblogs.url_campaign_value('raw_utm_medium') }} as utm_medium,
        {{ weblogs.url_campaign_value('raw_utm_campaign') }} as utm_campaign
    from campaign

),

final as (

    select
        session_id,
        coalesce(last_known_user_id, last_user_id) as user_id,
        is_anonymous_session,
        device_type,
        browser,
        session_date,
        session_start,
        session_end,
        session_duration_seconds,
        total_events,
        unique_pages,
        page_views,
        entry_event_type,
        entry_page,
        exit_event_type,
        exit_page,
        total_events = 1 as is_bounce,
        round(
            100 * (
                {{ weblogs.number_literal('engagement_weight_duration') }}
                * least(
                    session_duration_seconds
                    / {{ weblogs.number_literal('engagement_cap_duration_seconds') }},
                    1.0
                )
                + {{ weblogs.number_literal('engagement_weight_events') }}
                * least(
                    cast(total_events as double)
                    / {{ weblogs.number_literal('engagement_cap_events') }},
                    1.0
                )
                + {{ weblogs.number_literal('engagement_weight_pages') }}
                * least(
                    cast(unique_pages as double)
                    / {{ weblogs.number_literal('engagement_cap_pages') }},
                    1.0
                )
            ),
            2
        ) as engagement_score,
        loyalty_interactions,
        landing_page_path,
        referrer_host,
        utm_source,
        utm_medium,
        utm_campaign,
        {{ weblogs.session_channel('utm_source', 'utm_medium', 'referrer_host') }} as channel,
        reached_add_to_cart,
        reached_checkout,
        converted,
        purchases,
        coalesce(nullif(lower(trim(first_os)), ''), 'unknown') as os,
        coalesce(
            nullif({{ weblogs.simple_upper('trim(first_country)') }}, ''), 'UNKNOWN'
        ) as country,
        {{ weblogs.money_round2('coalesce(purchase_value, 0)') }} as revenue,
        client_id,
        {{ weblogs.visitor_key(
            'is_anonymous_session', 'coalesce(last_known_user_id, last_user_id)', 'client_id'
        ) }} as visitor_key
    from acquired
    where {{ weblogs.in_rebuilt('session_date', 'in_touched_session') }}

)

select * from final
