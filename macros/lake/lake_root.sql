{#-
    The lake folder on DuckDB: the var `lake_root` (default: the environment's
    WEBLOGS_LAKE_ROOT, where empty means unset, else `data/lake`). The sources
    (models/staging/_staging.yml) spell the same expression, as source YAML
    cannot call macros; tests/python/test_dbt_lake_root.py holds them together.
-#}
{% macro lake_root() %}
    {%- set root = var('lake_root', env_var('WEBLOGS_LAKE_ROOT', '') or 'data/lake') -%}
    {%- if root is none or root is not string or root | trim == '' -%}
        {{ exceptions.raise_compiler_error(
            "weblogs vars: lake_root='" ~ root ~ "' is not a folder -- pass --vars '{lake_root: path/to/lake}' or unset it for $WEBLOGS_LAKE_ROOT / data/lake"
        ) }}
    {%- endif -%}
    {{ return(root) }}
{% endmacro %}
