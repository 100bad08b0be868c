"""The bot and redaction macros' Athena SQL, run on Trino (Athena engine version 3).

The same checks as test_privacy_rules.py on DuckDB: dbt compiles the macros on the
`trino` target (the Athena macros), Trino evaluates them over a VALUES table: each
example of the contract, then random URLs and browsers against the plain-Python
reading (privacy_reference.py).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from privacy_reference import is_bot_browser, redact_url
from privacy_sql import BROWSERS, REDACTION_EXAMPLES, URLS, compile_expressions, values_sql
from trino_helpers import TrinoLake

pytestmark = pytest.mark.slow

EXPRESSIONS = {
    "redacted": "{{ weblogs.redact_url('u') }}",
    "bot": "{{ weblogs.is_bot_browser('u') }}",
}
VARS = "{startdate: 2026-10-02, enddate: 2026-10-02}"


@pytest.fixture(scope="module")
def trino_sql(trino_lake: TrinoLake, tmp_path_factory: pytest.TempPathFactory) -> str:
    project = trino_lake.dbt(tmp_path_factory.mktemp("trino-privacy"), "weblogs_privacy")
    sql = compile_expressions(project, EXPRESSIONS, VARS)
    assert "$1$2=redacted" in sql  # the Athena macro, not DuckDB's
    return sql


def run(trino_lake: TrinoLake, sql: str, values: list[str | None]) -> list[list[object]]:
    query = sql.replace("from values_table", "from " + values_sql(values)) + " order by i"
    return trino_lake.query(query)


def test_contract_examples_on_trino(trino_lake: TrinoLake, trino_sql: str) -> None:
    values = [url for url, _ in REDACTION_EXAMPLES]
    got = [row[1] for row in run(trino_lake, trino_sql, values)]
    assert got == [want for _, want in REDACTION_EXAMPLES]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    urls=st.lists(URLS.filter(lambda u: "\x00" not in u), min_size=1, max_size=80),
    browsers=st.lists(BROWSERS.filter(lambda b: "\x00" not in b), max_size=40),
)
def test_random_urls_and_browsers_agree_with_python_on_trino(
    trino_lake: TrinoLake, trino_sql: str, urls: list[str], browsers: list[str]
) -> None:
    values = urls + browsers
    rows = run(trino_lake, trino_sql, list(values))
    assert [r[1] for r in rows] == [redact_url(v) for v in values]
    assert [r[2] for r in rows] == [is_bot_browser(v) for v in values]
