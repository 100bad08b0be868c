"""Bots and secrets in URLs end to end on Trino (docs/contract.md section 7).

The privacy lake (privacy_lake.py: the fixture lake, bot sessions, secrets in every
form of the contract's examples) is mounted beside the shared server's own lake and
declared in a schema of its own; dbt builds the marts on the `trino` target (the
Athena SQL). Every string column of every mart of sections 3-6 is searched for the
bot sessions, the bot's user and each secret: none is found; the URL columns equal
the plain-Python redaction; the bot share `weblogs models` prints agrees with the lake.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dbt_helpers import END, START, DbtProject, reference_marts
from privacy_lake import (
    BOT_SESSIONS,
    SECRET_URLS,
    URL_COLUMNS,
    build_privacy_lake,
    expected_entry_and_exit,
    leaks,
    privacy_vars,
)
from privacy_reference import redact_url
from trino_helpers import TrinoLake

from weblogs.analytics.dbt_build import report
from weblogs.analytics.readers import trino_reader
from weblogs.trino import server, tables

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
MARTS = sorted(
    p.stem for p in (REPO / "models" / "marts").glob("*.sql") if p.stem != "session_anomalies"
)
SOURCE, SCHEMA = "privacy_lake", "privacy_marts"


@pytest.fixture(scope="module")
def built(trino_lake: TrinoLake, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    root = tmp_path_factory.mktemp("trino-privacy-lake")
    lake = build_privacy_lake(root)
    server.mount_lake(trino_lake.server, "privacy", lake)
    tables.declare_lake(
        trino_lake.cursor(), lake, trino_lake.server.root, schema=SOURCE, mount="privacy"
    )
    project = DbtProject(
        root / "dbt",
        lake,
        env={
            "WEBLOGS_DBT_TARGET": "trino",
            "WEBLOGS_TRINO_PORT": str(trino_lake.server.port),
            "WEBLOGS_TRINO_SCHEMA": SCHEMA,
            "WEBLOGS_TRINO_THREADS": "4",
            "WEBLOGS_GLUE_DATABASE": SOURCE,
        },
    )
    project.run("run", "--vars", privacy_vars(END))
    return project


def text_values(trino_lake: TrinoLake, table: str) -> dict[str, list[str]]:
    """Every string column of `table` with its values."""
    columns = [
        r[0]
        for r in trino_lake.query(
            "select column_name from information_schema.columns where table_schema = "
            f"'{SCHEMA}' and table_name = '{table}' and data_type like 'varchar%'"
        )
    ]
    if not columns:
        return {}
    # One query for the table (a Trino query costs more than these small tables' scan).
    listed = ", ".join(f'"{column}"' for column in columns)
    rows = trino_lake.query(f"select {listed} from {table}", SCHEMA)
    return {column: [str(row[i]) for row in rows] for i, column in enumerate(columns)}


def test_no_mart_on_trino_holds_a_bot_session_or_a_secret(
    built: DbtProject, trino_lake: TrinoLake
) -> None:
    searched = 0
    for mart in MARTS:
        for column, values in text_values(trino_lake, mart).items():
            searched += len(values)
            assert leaks(values) == [], (mart, column)
            if column in URL_COLUMNS:
                # Nothing a listed name still holds: redacting again changes nothing.
                assert [v for v in values if redact_url(v) != v] == [], (mart, column)
    assert searched > 100
    anomalies = trino_lake.query(
        "select session_id, count(*) from session_anomalies where rule = 'bot_browser' "
        "group by session_id",
        SCHEMA,
    )
    assert dict(anomalies) == BOT_SESSIONS


def test_url_columns_on_trino_equal_the_python_redaction(
    built: DbtProject, trino_lake: TrinoLake
) -> None:
    rows = trino_lake.query(
        "select session_id, entry_page, exit_page from engagement_metrics "
        f"where session_id in ({', '.join(repr(s) for s in SECRET_URLS)})",
        SCHEMA,
    )
    assert {r[0]: tuple(r[1:]) for r in rows} == expected_entry_and_exit()
    paths = {
        r[0]
        for r in trino_lake.query(
            "select page_path from page_metrics where page_path like '/account%' "
            "or page_path like '/a?%'",
            SCHEMA,
        )
    }
    assert paths == {
        redact_url("/account?password=hunter2-SECRET&lang=en"),
        redact_url("/account?PHONE=555-0100&lang=en"),
        redact_url("/a?email=x-SECRET=y"),
        "/a?email&x=1",
    }


def test_the_bot_share_weblogs_models_prints_on_trino_agrees_with_the_lake(
    built: DbtProject, trino_lake: TrinoLake
) -> None:
    env = {**os.environ, "WEBLOGS_TRINO_PORT": str(trino_lake.server.port)}
    text = report(trino_reader(env, SCHEMA), SCHEMA, (START, END))
    lines = text.split("bot sessions", 1)[1].splitlines()
    header = next(line for line in lines if "bot_share_pct" in line)
    values = lines[lines.index(header) + 2].split()
    humans = len(reference_marts(built.lake, START, END)["engagement_metrics"])
    bots = len(BOT_SESSIONS)
    assert values[:2] == [str(bots), str(humans + bots)]
    assert float(values[2]) == round(100 * bots / (humans + bots), 2)
