"""Any valid var value and any `--select` builds.

dbt's unit tests pin every var their models read, so any valid value builds.

Before, `acquisition_url_parsing_and_channels` read the project's default
`search_domains`/`social_domains`/`site_hosts`: a valid other list made
`dbt build` fail the unit test and skip about 105 nodes (the tests changed these
vars only with `dbt run`, which runs no unit test). And `dbt build --select engagement_metrics` on a fresh
database failed two tests that read marts it had not built.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from dbt_helpers import END, START, DbtProject, build_fixture_lake

REPO = Path(__file__).resolve().parents[3]
#: The window vars each unit test sets for its own dates; every other var is pinned.
WINDOW = {"startdate", "enddate", "run_date", "run_plan", "lake_root", "allow_full_refresh"}


def unit_tests() -> list[dict]:
    found = []
    for path in sorted((REPO / "models").glob("*/_*.yml")):
        found += yaml.safe_load(path.read_text(encoding="utf-8")).get("unit_tests", [])
    return found


def test_every_unit_test_pins_every_var_but_its_window() -> None:
    project_vars = set(yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]) - WINDOW
    tests = unit_tests()
    assert len(tests) >= 8
    for test in tests:
        pinned = set(test.get("overrides", {}).get("vars", {}))
        assert project_vars <= pinned, (test["name"], sorted(project_vars - pinned))


@pytest.mark.slow
def test_valid_acquisition_vars_build_every_node(tmp_path: Path) -> None:
    lake = build_fixture_lake(tmp_path)
    project = DbtProject(tmp_path / "work", lake, unit_tests=True)
    other = {
        "startdate": START,
        "enddate": END,
        "search_domains": ["search.example"],
        "social_domains": ["social.example", "t.co"],
        "site_hosts": ["shop.example"],
        "page_query_params": ["id"],
    }
    done = project.run("build", "--vars", json.dumps(other), check=False)
    results = json.loads((project.target_path / "run_results.json").read_text())["results"]
    bad = [r["unique_id"] for r in results if r["status"] in ("error", "fail", "skipped")]
    assert done.returncode == 0 and not bad, bad or done.stdout[-3000:]
    assert len([r for r in results if r["unique_id"].startswith("unit_test.")]) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("select", ["engagement_metrics", "loyalty_by_tier", "session_metrics"])
def test_any_select_builds_on_a_fresh_database(tmp_path: Path, select: str) -> None:
    """Tests that also read marts outside the selection are left out (indirect_selection)."""
    lake = build_fixture_lake(tmp_path)
    project = DbtProject(tmp_path / "work", lake, unit_tests=True)
    window = json.dumps({"startdate": START, "enddate": END})
    done = project.run("build", "--select", select, "--vars", window, check=False)
    results = json.loads((project.target_path / "run_results.json").read_text())["results"]
    bad = [r["unique_id"] for r in results if r["status"] in ("error", "fail", "skipped")]
    assert done.returncode == 0 and not bad, bad or done.stdout[-3000:]
    assert any(r["unique_id"].startswith("test.") for r in results)
