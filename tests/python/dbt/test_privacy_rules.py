"""The bot and redaction rules of docs/contract.md section 7, as SQL on DuckDB.

The macros are compiled by dbt (privacy_sql.py) and run on DuckDB: each example
of the contract, then random URLs and browsers against the plain-Python reading
(privacy_reference.py). The vars are checked like every var: a bad value stops
the run with one line naming it. Trino runs the same checks in test_trino_privacy.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from privacy_reference import is_bot_browser, redact_url
from privacy_sql import (
    BROWSERS,
    REDACTION_EXAMPLES,
    URLS,
    DbtProject,
    compile_expressions,
    duckdb_rows,
    project_for,
)

pytestmark = pytest.mark.slow

DEFAULT_VARS = "{startdate: 2026-10-02, enddate: 2026-10-02}"
CUSTOM_NAMES = ["Code", "a.b", "x+y", "[k]", "state"]
CUSTOM_VARS = (
    "{startdate: 2026-10-02, enddate: 2026-10-02, redacted_query_params: "
    "['Code', 'a.b', 'x+y', '[k]', 'state'], bot_browser_patterns: ['fetch', '/1.']}"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    root = tmp_path_factory.mktemp("privacy-rules")
    return project_for(root / "dbt", root / "lake")


@pytest.fixture(scope="module")
def default_sql(project: DbtProject) -> str:
    return compile_expressions(
        project,
        {"redacted": "{{ weblogs.redact_url('u') }}", "bot": "{{ weblogs.is_bot_browser('u') }}"},
        DEFAULT_VARS,
    )


@pytest.fixture(scope="module")
def custom_sql(project: DbtProject) -> str:
    return compile_expressions(
        project,
        {"redacted": "{{ weblogs.redact_url('u') }}", "bot": "{{ weblogs.is_bot_browser('u') }}"},
        CUSTOM_VARS,
    )


def test_contract_examples(default_sql: str) -> None:
    values = [url for url, _ in REDACTION_EXAMPLES]
    got = [row[1] for row in duckdb_rows(default_sql, values)]
    assert got == [want for _, want in REDACTION_EXAMPLES]
    assert got == [redact_url(url) for url in values]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(urls=st.lists(URLS, min_size=1, max_size=80), browsers=st.lists(BROWSERS, max_size=40))
def test_random_urls_and_browsers_agree_with_python(
    default_sql: str, custom_sql: str, urls: list[str], browsers: list[str]
) -> None:
    values = urls + browsers
    for sql, names, patterns in (
        (default_sql, None, None),
        (custom_sql, CUSTOM_NAMES, ["fetch", "/1."]),
    ):
        rows = duckdb_rows(sql, list(values))
        want_urls = [redact_url(v) if names is None else redact_url(v, names) for v in values]
        want_bots = [
            is_bot_browser(v) if patterns is None else is_bot_browser(v, patterns) for v in values
        ]
        assert [r[1] for r in rows] == want_urls
        assert [r[2] for r in rows] == want_bots


def test_custom_names_are_literal_text_not_patterns(custom_sql: str) -> None:
    values = ["/a?code=1&A.B=2&aXb=3&X+Y=4&xxy=5&[K]=6&k=7", "/s?STATE=ok#Code=c"]
    got = [row[1] for row in duckdb_rows(custom_sql, values)]
    assert got == [
        "/a?code=redacted&A.B=redacted&aXb=3&X+Y=redacted&xxy=5&[K]=redacted&k=7",
        "/s?STATE=redacted#Code=redacted",
    ]


def test_empty_lists_redact_nothing_and_flag_no_bot(project: DbtProject) -> None:
    sql = compile_expressions(
        project,
        {"redacted": "{{ weblogs.redact_url('u') }}", "bot": "{{ weblogs.is_bot_browser('u') }}"},
        "{startdate: 2026-10-02, enddate: 2026-10-02, redacted_query_params: [], "
        "bot_browser_patterns: []}",
    )
    rows = duckdb_rows(sql, ["/a?email=x", "googlebot"])
    assert [(r[1], r[2]) for r in rows] == [("/a?email=x", False), ("googlebot", False)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("redacted_query_params", "email"),
        ("redacted_query_params", "[42]"),
        ("redacted_query_params", "['a=b']"),
        ("redacted_query_params", '["x\') or 1=1 --"]'),
        ("redacted_query_params", "['']"),
        ("redacted_query_params", "{a: 1}"),
        ("bot_browser_patterns", "bot"),
        ("bot_browser_patterns", "['Bot']"),
        ("bot_browser_patterns", "['']"),
        ("bot_browser_patterns", "['" + "x" * 65 + "']"),
        ("bot_browser_patterns", "['caf\u00e9']"),
        ("bot_browser_patterns", "[1]"),
    ],
)
def test_invalid_vars_stop_the_run_naming_the_var(
    project: DbtProject, name: str, value: str
) -> None:
    done = project.run(
        "run-operation", "validate_run_vars", "--vars", f"{{{name}: {value}}}", check=False
    )
    assert done.returncode != 0
    lines = [line for line in done.stdout.splitlines() if "weblogs vars:" in line]
    assert len(lines) == 1 and f"{name}=" in lines[0], done.stdout[-3000:]
    assert "Traceback" not in done.stdout + done.stderr


def test_valid_var_values_are_accepted(project: DbtProject, tmp_path: Path) -> None:
    done = project.run(
        "run-operation",
        "validate_run_vars",
        "--vars",
        "{redacted_query_params: [Email, ' token '], bot_browser_patterns: ['my crawler/1.0', ':)']}",
    )
    assert done.returncode == 0
