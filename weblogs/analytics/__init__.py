"""The analytics runner: `dbt build` on the local lake and the marts' headline figures."""

from weblogs.analytics.dbt_build import (
    ModelsError,
    build_and_report,
    check_lake,
    check_window,
    default_duckdb_path,
    default_window,
    format_table,
    run_dbt_build,
)

__all__ = [
    "ModelsError",
    "build_and_report",
    "check_lake",
    "check_window",
    "default_duckdb_path",
    "default_window",
    "format_table",
    "run_dbt_build",
]
