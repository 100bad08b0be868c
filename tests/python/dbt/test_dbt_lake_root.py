"""The dbt var `lake_root`: one lake-root rule for the sources and the DuckDB day folders.

Default: $WEBLOGS_LAKE_ROOT, where empty means unset, then `data/lake`; an explicit
`--vars '{lake_root: ...}'` wins. Any folder name works, quotes and `$` included.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from dbt_helpers import END, MARTS, START, DbtProject, fixture_build

pytestmark = pytest.mark.slow

ORDER_BY = {
    "engagement_metrics": "session_id",
    "session_metrics": "session_date, device_type, browser",
    "loyalty_metrics": "user_id",
    "loyalty_by_tier": "loyalty_tier",
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The fixture lake's range build: this module's copy of the run's one build."""
    return fixture_build(tmp_path_factory, tmp_path_factory.mktemp("lake-root-reference"))


@pytest.fixture(scope="module")
def lake(reference: DbtProject) -> Path:
    """The fixture lake of that build (shared by the run's modules: read only)."""
    return reference.lake


def marts(project: DbtProject) -> dict[str, list[dict[str, object]]]:
    return {mart: project.table(mart, ORDER_BY[mart]) for mart in MARTS}


def listed_days(project: DbtProject) -> list[str]:
    compiled = project.target_path / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
    return re.findall(r"/events/year=2026/month=10/day=(\d{2})/", compiled.read_text())


def test_a_lake_path_with_quotes_and_dollars_reads_the_same_rows(
    lake: Path, reference: DbtProject, tmp_path: Path
) -> None:
    hostile = tmp_path / "it's a $lake 'x'"
    shutil.copytree(lake, hostile)
    project = DbtProject(tmp_path / "work", hostile)
    project.build(START, END)
    assert marts(project) == marts(reference)
    # The day folders are still listed (built from the var), not the whole-lake glob.
    assert listed_days(project) == ["01", "02", "03", "04", "05"]


def test_the_var_wins_over_the_environment(
    lake: Path, reference: DbtProject, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-lake"
    (empty / "crm").mkdir(parents=True)
    project = DbtProject(tmp_path / "work", empty)
    project.run("build", "--vars", f"{{startdate: {START}, enddate: {END}, lake_root: '{lake}'}}")
    assert marts(project) == marts(reference)


def test_an_empty_environment_value_means_data_lake(
    lake: Path, reference: DbtProject, tmp_path: Path
) -> None:
    project = DbtProject(tmp_path, lake, env={"WEBLOGS_LAKE_ROOT": ""})
    shutil.copytree(lake, tmp_path / "data" / "lake")  # relative to dbt's working folder
    project.build(START, END)
    assert marts(project) == marts(reference)
    assert listed_days(project) == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("value", ["''", "'  '", "[a, b]"])
def test_a_lake_root_that_is_not_a_folder_stops_the_run_in_one_line(
    lake: Path, tmp_path: Path, value: str
) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run(
        "build",
        "--vars",
        f"{{startdate: {START}, enddate: {END}, lake_root: {value}}}",
        check=False,
    )
    assert done.returncode != 0
    lines = [line for line in done.stdout.splitlines() if "weblogs vars:" in line]
    assert len(lines) == 1 and "lake_root=" in lines[0], done.stdout[-3000:]


@pytest.mark.parametrize(
    ("day", "real"),
    [
        ("2024-02-29", True),
        ("2000-02-29", True),
        ("2100-02-29", False),
        ("2026-02-29", False),
        ("2026-04-31", False),
        ("2026-12-31", True),
        ("2026-13-01", False),
        ("2026-00-10", False),
        ("0000-01-01", False),
    ],
)
def test_window_dates_follow_the_calendar(lake: Path, tmp_path: Path, day: str, real: bool) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run(
        "run-operation",
        "validate_run_vars",
        "--vars",
        f"{{startdate: '{day}', enddate: '{day}'}}",
        check=False,
    )
    if real:
        assert done.returncode == 0, done.stdout[-3000:]
        assert f"sessions from {day} to {day} " in done.stdout
    else:
        assert done.returncode != 0
        assert "is not a real calendar date" in done.stdout, done.stdout[-3000:]
