"""Revenue, goals and audiences (docs/contract.md section 6), dbt for real on DuckDB.

A lake written by `weblogs transform` from generated sessions with operating
systems, countries and values (half cents included); the marts are compared with
the plain-Python reading of the contract (revenue_reference.py), for a range
build, day by day, with each var section 6 reads changed on its own, and with
invalid goals, which must stop the run before any SQL.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from dbt_helpers import CUSTOMERS, RATINGS, REPO_ROOT, DbtProject, transform, write_csv, write_jsonl
from revenue_reference import (
    RevenueVars,
    assert_matches_reference,
    marts,
    reference_revenue,
    revenue_events,
)

from weblogs.core.contract import EVENT_TYPES

pytestmark = pytest.mark.slow

START, END = "2026-10-02", "2026-10-04"
PAGE_GOALS = (
    {"name": "cart_page", "page_path": "/cart"},
    {"name": "checkout_step", "page_path": "/checkout?step=1"},
    {"name": "add", "event_type": "add_to_cart"},
    {"name": "home", "page_path": "/"},
    {"name": "quoted", "page_path": "/it's ok') or ('1'='1"},  # text, never SQL
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("revenue-lake")
    lake = root / "lake"
    events = revenue_events(date.fromisoformat(START), 3, 300, seed=29)
    transform(write_jsonl(root / "events.jsonl", events), lake)
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    return lake


@pytest.fixture(scope="module")
def built(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("revenue-range"), lake)
    project.build(START, END)
    return project


def yaml_text(value: str) -> str:
    """A YAML single-quoted scalar (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def goals_text(goals: tuple[dict[str, str], ...]) -> str:
    items = ("{" + ", ".join(f"{k}: {yaml_text(v)}" for k, v in g.items()) + "}" for g in goals)
    return "[" + ", ".join(items) + "]"


def vars_text(start: str, end: str, **extra: str) -> str:
    items = [f"startdate: {start}", f"enddate: {end}", *(f"{k}: {v}" for k, v in extra.items())]
    return "{" + ", ".join(items) + "}"


def test_range_build_matches_the_contract(built: DbtProject, lake: Path) -> None:
    expected = reference_revenue(lake, START, END)
    sessions = expected["engagement_metrics"]
    # The lake exercises every rule: case mapping (ß kept), unknowns, half cents, nulls.
    assert {"unknown", "windows", "ios", "æon"} <= {s["os"] for s in sessions}
    assert {"UNKNOWN", "PT", "DE", "STRAßE"} <= {s["country"] for s in sessions}
    revenues = {s["revenue"] for s in sessions}
    assert Decimal("2.68") in revenues and Decimal("0.13") in revenues  # 2.675, 0.125: up
    assert Decimal("0") in revenues and max(revenues) >= Decimal("1000000000")
    goals = expected["goal_metrics"]
    assert {g["goal"] for g in goals} == {"purchase", "signup"}
    assert all(g["converted_sessions"] > 0 for g in goals if g["goal"] == "purchase")
    assert_matches_reference(built, expected)


def test_money_columns_are_decimals_with_two_places(built: DbtProject) -> None:
    types = built.query(
        "select table_name, column_name, data_type from information_schema.columns"
        " where column_name in ('revenue', 'value') and table_schema = 'main'"
        " and table_name in ('engagement_metrics', 'acquisition_metrics', 'goal_metrics',"
        " 'audience_metrics') order by 1"
    )
    assert [(t, c) for t, c, _ in types] == [
        ("acquisition_metrics", "revenue"),
        ("audience_metrics", "revenue"),
        ("engagement_metrics", "revenue"),
        ("goal_metrics", "value"),
    ]
    assert {d for _, _, d in types} == {"DECIMAL(38,2)"}


def test_day_by_day_equals_the_range_and_the_contract(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    daily = DbtProject(tmp_path, lake)
    day = date.fromisoformat(START)
    while day <= date.fromisoformat(END):
        daily.run("run", "--vars", vars_text(str(day), str(day)))
        day += timedelta(days=1)
    assert marts(daily) == marts(built)
    assert_matches_reference(daily, reference_revenue(lake, START, END))


def test_the_new_marts_built_alone_equal_the_full_build(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    """`--select` of the marts alone: no per-run table, each computes from the events."""
    alone = DbtProject(tmp_path, lake)
    alone.run(
        "run", "--select", "goal_metrics", "audience_metrics", "--vars", vars_text(START, END)
    )
    models = ("goal_metrics", "audience_metrics")
    assert marts(alone, models) == marts(built, models)


def run_with(lake: Path, tmp_path: Path, **extra: str) -> DbtProject:
    project = DbtProject(tmp_path, lake)
    project.run("run", "--select", "+goal_metrics", "--vars", vars_text(START, END, **extra))
    return project


def test_conversion_goals_on_events_and_pages(lake: Path, tmp_path: Path) -> None:
    project = run_with(lake, tmp_path, conversion_goals=goals_text(PAGE_GOALS))
    expected = reference_revenue(lake, START, END, RevenueVars(conversion_goals=PAGE_GOALS))
    by_goal: dict[str, int] = {}
    for row in expected["goal_metrics"]:
        by_goal[row["goal"]] = by_goal.get(row["goal"], 0) + row["completions"]
    # Page goals match page_view events on the path only; without page_query_params the
    # query is dropped, so "/checkout?step=1" matches nothing.
    assert by_goal["cart_page"] > 0 and by_goal["home"] > 0 and by_goal["add"] > 0
    assert by_goal["checkout_step"] == 0 and by_goal["quoted"] == 0
    assert_matches_reference(project, expected, ("goal_metrics",))


def test_page_query_params_decide_page_goals(lake: Path, tmp_path: Path) -> None:
    project = run_with(
        lake, tmp_path, conversion_goals=goals_text(PAGE_GOALS), page_query_params="[step]"
    )
    expected = reference_revenue(
        lake, START, END, RevenueVars(conversion_goals=PAGE_GOALS, page_query_params=["step"])
    )
    rows = expected["goal_metrics"]
    assert sum(r["completions"] for r in rows if r["goal"] == "checkout_step") > 0
    assert_matches_reference(project, expected, ("goal_metrics",))


def test_an_empty_goal_list_builds_no_goal_rows(lake: Path, tmp_path: Path) -> None:
    project = run_with(lake, tmp_path, conversion_goals="[]")
    assert project.query("select count(*) from main.goal_metrics") == [(0,)]


@pytest.mark.parametrize(
    "value",
    [
        "purchase",
        "[{name: Purchase, event_type: purchase}]",
        "[{name: " + "a" * 65 + ", event_type: purchase}]",
        "[{name: a, event_type: purchase}, {name: a, event_type: signup}]",
        "[{name: a, event_type: hover}]",
        "[{name: a, page_path: cart}]",
        '[{name: a, page_path: "/x\') or (1=1\\n"}]',
        "[{name: a, event_type: purchase, page_path: /cart}]",
        "[{name: a}]",
        "[{name: a, event_type: purchase, value: 1}]",
        '[{name: "a\\n", event_type: purchase}]',
        "[[a, purchase]]",
    ],
)
def test_invalid_goals_stop_the_run_naming_the_var(lake: Path, tmp_path: Path, value: str) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run(
        "build", "--vars", vars_text(START, END, conversion_goals=value), check=False
    )
    assert done.returncode != 0
    lines = [line for line in done.stdout.splitlines() if "weblogs vars:" in line]
    assert len(lines) == 1 and "conversion_goals=" in lines[0], done.stdout[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert not project.duckdb_path.exists() or not project.query(
        "select * from information_schema.tables where table_schema = 'main'"
    )


def test_goal_event_types_are_the_contracts() -> None:
    text = (REPO_ROOT / "macros" / "vars" / "goals.sql").read_text(encoding="utf-8")
    block = text.split("macro allowed_event_types()", 1)[1].split("endmacro", 1)[0]
    assert sorted(re.findall(r"'([a-z_]+)'", block)) == sorted(EVENT_TYPES)
