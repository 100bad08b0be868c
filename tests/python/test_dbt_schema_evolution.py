"""Old lake files and new ones read together on DuckDB (docs/contract.md#1-the-event):
files written before `client_id` and `value` existed read them as null, by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_helpers import CUSTOMERS, RATINGS, DbtProject, write_csv
from evolution_helpers import expected_rows, shown, write_evolution_lake

pytestmark = pytest.mark.slow


def test_old_and_new_files_read_together(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_evolution_lake(lake)
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    project = DbtProject(tmp_path / "dbt", lake)
    assert shown(project, "2026-10-02", "2026-10-06") == expected_rows()
    # A window whose files are all old: the new columns still exist, all null.
    assert shown(project, "2026-10-06", "2026-10-06") == [("old-2", None, None)]
    # And the whole project builds over the mixed lake.
    project.build("2026-10-02", "2026-10-06")
