"""Bots and secrets in URLs (docs/contract.md section 7), dbt for real on DuckDB.

The fixture lake plus sessions of bots (a browser containing a listed pattern) and
sessions whose URLs carry secrets: no mart holds a bot session, a bot's user or a
listed secret; session_anomalies reports every bot event with the rule
`bot_browser`; the URL and path columns are redacted; `weblogs models` prints the
share of bot sessions.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dbt_helpers import END, START, WEBLOGS, DbtProject
from privacy_lake import (
    BOT_SESSIONS,
    BOT_USER,
    SECRET_URLS,
    SECRETS,
    build_privacy_lake,
    expected_entry_and_exit,
    privacy_vars,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
#: Every mart, today's and those other work adds (all of models/marts/ but the anomalies).
MARTS = sorted(
    p.stem for p in (REPO / "models" / "marts").glob("*.sql") if p.stem != "session_anomalies"
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_privacy_lake(tmp_path_factory.mktemp("privacy-lake"))


@pytest.fixture(scope="module")
def built(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("privacy-dbt"), lake)
    project.run(
        "build", "--vars", privacy_vars(END),
        # The unit tests expect the default page_query_params; they run in the other tests.
        "--exclude-resource-type", "unit_test",
    )  # fmt: skip
    return project


def text_values(project: DbtProject, table: str) -> list[str]:
    columns = [
        r[0]
        for r in project.query(
            "select column_name from information_schema.columns "
            f"where table_schema = 'main' and table_name = '{table}' and data_type = 'VARCHAR'"
        )
    ]
    values: list[str] = []
    for column in columns:
        values += [str(r[0]) for r in project.query(f"select {column} from main.{table}")]
    return values


#: Marts without a text value here: counts only (daily_visitors, retention_cohorts), and
#: identity_map, empty since this lake's events carry no client_id (section 5).
NO_TEXT = ("daily_visitors", "retention_cohorts", "identity_map")


def test_no_mart_holds_a_bot_session_or_a_secret(built: DbtProject) -> None:
    assert {"engagement_metrics", "session_metrics", "loyalty_metrics", "page_metrics"} <= set(
        MARTS
    )
    for mart in MARTS:
        values = text_values(built, mart)
        assert values or mart.startswith("loyalty_by") or mart in NO_TEXT, mart
        found = [v for v in values if any(s in v for s in (*SECRETS, *BOT_SESSIONS, BOT_USER))]
        assert found == [], mart
        assert not [v for v in values if "bot" in v or "headless" in v or v.startswith("curl")]
    sessions = {r[0] for r in built.query("select session_id from main.engagement_metrics")}
    assert {"human-later", *SECRET_URLS} <= sessions


def test_bot_events_are_reported_with_their_rule(built: DbtProject) -> None:
    rows = built.query(
        "select session_id, count(*), min(report_date) = max(report_date) "
        "from main.session_anomalies where rule = 'bot_browser' group by session_id"
    )
    assert {r[0]: r[1] for r in rows} == BOT_SESSIONS
    assert all(r[2] for r in rows)
    dates = dict(
        built.query(
            "select distinct session_id, cast(report_date as varchar) from main.session_anomalies "
            "where rule = 'bot_browser'"
        )
    )
    assert dates == {
        "bot-google": "2026-10-02",
        "bot-headless": "2026-10-03",
        "bot-curl": "2026-10-04",
    }


def test_url_and_path_columns_are_redacted(built: DbtProject) -> None:
    (row,) = built.query(
        "select entry_page, exit_page, landing_page_path from main.engagement_metrics "
        "where session_id = 'secret'"
    )
    assert row == (
        "https://shop.example.com/cb?Email=redacted&x=1#access_token=redacted",
        "/#/login?token=redacted",
        "/cb?Email=redacted&x=1",
    )
    rows = built.query(
        "select session_id, entry_page, exit_page from main.engagement_metrics "
        f"where session_id in ({', '.join(repr(s) for s in SECRET_URLS)})"
    )
    assert {r[0]: tuple(r[1:]) for r in rows} == expected_entry_and_exit()
    paths = {
        r[0]: r[1:]
        for r in built.query(
            "select page_path, page_views, sessions from main.page_metrics "
            "where session_date = '2026-10-02' and page_path like '/account%'"
        )
    }
    assert paths == {
        "/account?password=redacted&lang=en": (1, 1),
        "/account?PHONE=redacted&lang=en": (1, 1),
    }


def test_weblogs_models_prints_the_share_of_bot_sessions(lake: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [WEBLOGS, "models", "--startdate", START, "--enddate", END, "--lake", str(lake),
         "--duckdb", str(tmp_path / "w.duckdb")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.split("bot sessions", 1)[1].splitlines()
    header = next(line for line in lines if "bot_share_pct" in line)
    values = lines[lines.index(header) + 2].split()
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        (sessions,) = con.execute(
            "select count(*) from main.engagement_metrics where session_date between ? and ?",
            [START, END],
        ).fetchone()
    bots = len(BOT_SESSIONS)
    assert values[:2] == [str(bots), str(sessions + bots)]
    assert float(values[2]) == round(100 * bots / (sessions + bots), 2)
