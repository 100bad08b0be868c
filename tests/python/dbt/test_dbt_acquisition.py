"""Acquisition, pages and conversions (docs/contract.md section 4), dbt for real on DuckDB.

A lake written by `weblogs transform` from generated sessions of every source
kind; the marts are compared with the plain-Python reading of the contract
(acquisition_reference.py), for a range build, day by day, and with each list var
changed.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from acquisition_reference import AcquisitionVars, acquisition_events, reference_acquisition
from dbt_helpers import CUSTOMERS, RATINGS, DbtProject, transform, write_csv, write_jsonl

pytestmark = pytest.mark.slow

START, END = "2026-10-02", "2026-10-04"
KEYS = {
    "engagement_metrics": ("session_id", "session_date"),
    "acquisition_metrics": ("session_date", "channel"),
    "page_metrics": ("session_date", "page_path"),
}
MODELS = ("engagement_metrics", "acquisition_metrics", "page_metrics")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("acq-lake")
    lake = root / "lake"
    events = acquisition_events(date.fromisoformat(START), 3, 300, seed=18)
    transform(write_jsonl(root / "events.jsonl", events), lake)
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    return lake


@pytest.fixture(scope="module")
def built(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("acq-range"), lake)
    project.build(START, END)
    return project


def vars_text(start: str, end: str, **extra: list[str]) -> str:
    items = [f"startdate: {start}", f"enddate: {end}"]
    items += [f"{name}: [{', '.join(repr(v) for v in values)}]" for name, values in extra.items()]
    return "{" + ", ".join(items) + "}"


def marts(project: DbtProject) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    out = {}
    for model in MODELS:
        rows = project.table(model, ", ".join(KEYS[model]))
        out[model] = {tuple(r[k] for k in KEYS[model]): r for r in rows}
    return out


def assert_matches_reference(
    project: DbtProject, expected: dict[str, list[dict[str, Any]]]
) -> None:
    got = marts(project)
    for model in MODELS:
        want = {tuple(r[k] for k in KEYS[model]): r for r in expected[model]}
        assert sorted(got[model], key=str) == sorted(want, key=str), model
        for key, row in want.items():
            for column, value in row.items():
                other = got[model][key][column]
                if isinstance(value, float) and other is not None:
                    assert abs(other - value) <= 0.005, (model, key, column, other, value)
                else:
                    assert other == value, (model, key, column, other, value)


def test_range_build_matches_the_contract(built: DbtProject, lake: Path) -> None:
    expected = reference_acquisition(lake, START, END)
    channels = {r["channel"] for r in expected["acquisition_metrics"]}
    # The generated traffic reaches every channel and every funnel step.
    assert channels == {
        "paid_search", "paid_social", "display", "email", "affiliate", "social",
        "organic_search", "other_campaign", "referral", "direct",
    }  # fmt: skip
    assert sum(r["converted_sessions"] for r in expected["acquisition_metrics"]) > 5
    assert any(r["avg_time_on_page_seconds"] is None for r in expected["page_metrics"])
    assert_matches_reference(built, expected)


def test_day_by_day_equals_the_range_and_the_contract(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    daily = DbtProject(tmp_path, lake)
    day = date.fromisoformat(START)
    while day <= date.fromisoformat(END):
        daily.run("run", "--vars", vars_text(str(day), str(day)))
        day += timedelta(days=1)
    assert marts(daily) == marts(built)
    assert_matches_reference(daily, reference_acquisition(lake, START, END))


def run_with(lake: Path, tmp_path: Path, **extra: list[str]) -> DbtProject:
    project = DbtProject(tmp_path, lake)
    project.run("run", "--select", *MODELS, "--vars", vars_text(START, END, **extra))
    return project


def channel_sessions(project: DbtProject) -> dict[str, int]:
    rows = project.query(
        "select channel, sum(sessions) from main.acquisition_metrics group by channel"
    )
    return {name: int(n) for name, n in rows}


def test_site_hosts_turn_internal_referrers_into_direct(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    project = run_with(lake, tmp_path, site_hosts=["example.com"])
    assert_matches_reference(
        project,
        reference_acquisition(lake, START, END, AcquisitionVars(site_hosts=["example.com"])),
    )
    before, after = channel_sessions(built), channel_sessions(project)
    hosts = {
        r[0] for r in project.query("select distinct referrer_host from main.engagement_metrics")
    }
    assert "shop.example.com" not in hosts and "example.com" not in hosts
    assert "news.example.org" in hosts  # another site, not a subdomain
    assert after["referral"] < before["referral"] and after["direct"] > before["direct"]
    assert sum(after.values()) == sum(before.values())


def test_page_query_params_keep_the_named_items(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    params = ["lang", "id"]
    project = run_with(lake, tmp_path, page_query_params=params)
    assert_matches_reference(
        project, reference_acquisition(lake, START, END, AcquisitionVars(page_query_params=params))
    )
    before = {r[0] for r in built.query("select distinct page_path from main.page_metrics")}
    after = {r[0] for r in project.query("select distinct page_path from main.page_metrics")}
    assert not any("?" in p for p in before)
    # As written and in their order; other items and the query of other pages dropped.
    assert {"/Products?id=7&lang=en", "/?lang=fr", "/search?lang=en", "/checkout"} <= after
    assert "/search" not in after and "/Products" not in after
    totals = "select sum(page_views) from main.page_metrics"
    assert project.query(totals) == built.query(totals)


def test_search_domains_decide_organic_search(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    domains = ["search.example.net"]
    project = run_with(lake, tmp_path, search_domains=domains)
    assert_matches_reference(
        project, reference_acquisition(lake, START, END, AcquisitionVars(search_domains=domains))
    )
    before, after = channel_sessions(built), channel_sessions(project)
    organic = project.query(
        "select distinct referrer_host from main.engagement_metrics where channel = 'organic_search'"
    )
    assert organic == [("search.example.net",)]
    assert (
        after["organic_search"] < before["organic_search"]
        and after["referral"] > before["referral"]
    )


def test_social_domains_decide_social(built: DbtProject, lake: Path, tmp_path: Path) -> None:
    project = run_with(lake, tmp_path, social_domains=[])
    assert_matches_reference(
        project, reference_acquisition(lake, START, END, AcquisitionVars(social_domains=[]))
    )
    before, after = channel_sessions(built), channel_sessions(project)
    social_hosts = project.query(
        "select count(*) from main.engagement_metrics where channel = 'social' and utm_medium is null"
    )
    assert social_hosts == [(0,)]
    assert after["social"] < before["social"] and after["referral"] > before["referral"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("site_hosts", "example.com"),
        ("site_hosts", "['exa mple.com']"),
        ("search_domains", '["google.com\') or (1=1"]'),
        ("social_domains", "[42]"),
        ("page_query_params", "['a&b']"),
        ("page_query_params", "{a: 1}"),
    ],
)
def test_invalid_list_vars_stop_the_run_naming_the_var(
    lake: Path, tmp_path: Path, name: str, value: str
) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run(
        "build", "--vars", f"{{startdate: {START}, enddate: {END}, {name}: {value}}}", check=False
    )
    assert done.returncode != 0
    lines = [line for line in done.stdout.splitlines() if "weblogs vars:" in line]
    assert len(lines) == 1 and f"{name}=" in lines[0], done.stdout[-3000:]
    assert not project.duckdb_path.exists() or not project.query(
        "select * from information_schema.tables where table_schema = 'main'"
    )
