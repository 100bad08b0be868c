"""The analytics runner: `dbt build` on a target and the marts' headline figures."""

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
from weblogs.analytics.dbt_process import Stopped

__all__ = [
    "ModelsError",
    "Stopped",
    "build_and_report",
    "check_lake",
    "check_window",
    "default_duckdb_path",
    "default_window",
    "format_table",
    "run_dbt_build",
]
