"""After `weblogs forget` and the next scheduled run, no table of the warehouse holds
the user (docs/contract.md section 7), and everyone else's rows are as they were.

dbt runs for real on DuckDB: a scheduled run builds the marts with the user in
them, the erasure records the touched dates as arrivals, and the next scheduled
run rebuilds those dates whole.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dbt_helpers import DbtProject, scheduled_vars
from forget_helpers import NEEDLES, SESSIONS, USER, build_lake

from weblogs.adapters.forget import forget
from weblogs.adapters.lake import LocalLake

pytestmark = pytest.mark.slow


def warehouse_hits(project: DbtProject) -> list[str]:
    """Every table and column of the DuckDB warehouse whose text mentions the user."""
    columns = project.query(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'"
    )
    hits = []
    for schema, table, column in columns:
        for (value,) in project.query(f'select distinct "{column}" from "{schema}"."{table}"'):
            if value is not None and any(needle in value for needle in NEEDLES):
                hits.append(f"{schema}.{table}.{column}: {value}")
    return hits


def others_rows(project: DbtProject) -> list[tuple[Any, ...]]:
    return project.query(
        "select * from main.engagement_metrics where session_id not in "
        f"({', '.join(repr(s) for s in SESSIONS)}) order by session_id, session_date"
    )


def test_the_next_scheduled_run_leaves_no_trace_of_the_user(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    build_lake(LocalLake(lake), str(lake), tmp_path / "work")
    project = DbtProject(tmp_path / "dbt", lake)
    project.run("build", "--vars", scheduled_vars(project.duckdb_path, lake, "2026-10-05"))
    assert any(USER in hit for hit in warehouse_hits(project))
    before = others_rows(project)
    assert before

    outcome = forget(LocalLake(lake), USER, now=datetime(2026, 10, 5, 10, 0, tzinfo=UTC))
    assert outcome.dates == ["2026-10-02", "2026-10-03"]
    project.run("build", "--vars", scheduled_vars(project.duckdb_path, lake, "2026-10-06"))

    assert warehouse_hits(project) == []
    assert others_rows(project) == before
