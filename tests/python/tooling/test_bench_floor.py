"""bench/models.py's floor is fair: on a small lake from the bench's own generator, the
hand-written DuckDB script equals dbt's full build on every mart, row by row, and the
generated data triggers each contract rule the models apply, so a floor that skips one
(bots, redaction, the 24-hour session rule) is caught by the bench's comparison."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

pytestmark = pytest.mark.dbt

BENCH = Path(__file__).resolve().parents[3] / "bench"
DAYS = 8


def load_bench() -> ModuleType:
    """bench/models.py as a module (it imports bench/results.py beside it by bare name)."""
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_models", BENCH / "models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, Path, Path]]:
    """A 60,000-event lake over eight days, built in full by dbt: (bench, lake, dbt's database)."""
    bench = load_bench()
    work = tmp_path_factory.mktemp("bench-floor")
    lake = work / "lake"
    bench.generate_lake(lake, 60_000, DAYS)
    dbt = bench.Dbt(work, lake)
    start, end = bench.FIRST_DAY, bench.FIRST_DAY + timedelta(days=DAYS - 1)
    dbt.run("run", "--full-refresh", "--vars",
            f"{{startdate: '{start}', enddate: '{end}', allow_full_refresh: true}}")  # fmt: skip
    yield bench, lake, dbt.database


def floor_against_dbt(built: tuple[ModuleType, Path, Path], **rules: object) -> list[str]:
    """The floor (with `rules` changed) run next to dbt's marts: the marts that differ."""
    bench, lake, database = built
    start, end = bench.FIRST_DAY, bench.FIRST_DAY + timedelta(days=DAYS - 1)
    with duckdb.connect() as con:
        con.execute(bench.floor_sql(lake, start, end, **rules))
        con.execute(f"attach '{database}' as dbt (read_only)")
        return [name.split(" ")[0] for name in bench.differing_marts(con)]


def test_the_floor_equals_every_mart_of_the_full_build(
    built: tuple[ModuleType, Path, Path],
) -> None:
    assert floor_against_dbt(built) == []


def test_the_generated_lake_triggers_every_rule(built: tuple[ModuleType, Path, Path]) -> None:
    """Bots, events past 24 hours, reused session ids, secrets in URLs, late logins
    stitched to their device's earlier visits, purchases with values, signups."""
    _, _, database = built
    with duckdb.connect(str(database), read_only=True) as con:
        rules = dict(
            con.execute("select rule, count(*) from session_anomalies group by 1").fetchall()
        )
        reused = con.execute(
            "select count(*) from (select session_id from engagement_metrics group by 1 having count(*) > 1)"
        ).fetchone()[0]
        redacted = con.execute(
            "select count(*) from engagement_metrics"
            " where entry_page like '%=redacted%' or exit_page like '%=redacted%'"
        ).fetchone()[0]
        stitched = con.execute(
            "select count(*) from users where is_identified and first_channel is not null"
            " and visitor_id in (select 'u:' || user_id from identity_map)"
        ).fetchone()[0]
        revenue, signups = con.execute(
            "select sum(value) filter (where goal = 'purchase'),"
            " sum(completions) filter (where goal = 'signup') from goal_metrics"
        ).fetchone()
    assert rules.get("bot_browser", 0) > 0
    assert rules.get("event_more_than_24_hours_after_its_session_start", 0) > 0
    assert reused > 0
    assert redacted > 0
    assert stitched > 0
    assert revenue > 0 and signups > 0


@pytest.mark.parametrize(
    ("rules", "caught"),
    [
        ({"bot_patterns": ()}, {"engagement_metrics", "session_anomalies", "session_metrics"}),
        ({"redacted_params": ()}, {"engagement_metrics"}),
        ({"session_hours": 72}, {"engagement_metrics", "session_anomalies", "page_metrics"}),
    ],
    ids=["no-bot-rule", "no-redaction", "no-24-hour-split"],
)
def test_a_floor_that_skips_a_rule_is_caught(
    built: tuple[ModuleType, Path, Path], rules: dict[str, object], caught: set[str]
) -> None:
    differing = set(floor_against_dbt(built, **rules))
    assert caught <= differing, differing
