"""The dbt worker (weblogs/analytics/dbt_worker.py): one process per run, one parse, reused.

A scheduled run paid for two imports of dbt and a full parse of the project every day
(its plan is a var, and the vars are part of dbt's partial-parse state). Now one worker
parses with the run's fixed vars only and runs the build and `source freshness` on that
manifest with the full vars: the run vars must therefore change nothing a parse records,
and must still be checked when they reach dbt (docs/analytics.md, Start-up).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbt_helpers import (
    CUSTOMERS,
    RATINGS,
    REPO_ROOT,
    WEBLOGS,
    build_fixture_lake,
    fixture_batches,
    write_csv,
    write_jsonl,
)

from weblogs.analytics.dbt_build import run_dbt_build
from weblogs.analytics.dbt_process import MARKER, RUN_VARS, DbtSession, split_runs
from weblogs.core.errors import ModelsError

PLAN = {
    "run_date": "2026-10-08",
    "arrivals_from_us": 1_791_331_200_000_000,  # 2026-10-07 00:00 UTC
    "arrivals_to_us": 1_791_417_600_000_000,  # 2026-10-08 00:00 UTC
    "full_dates": ["2026-10-03"],
    "patch_dates": ["2026-10-04"],
    "new_rows": [
        {
            "event_date": "2026-10-04",
            "event_hour": "10",
            "first_ingested_at_us": 1_791_331_200_000_000,
        }
    ],
}


def test_the_workers_output_is_split_by_command_and_a_missing_command_failed() -> None:
    """The parse's events go with the first command; a command the worker never reached
    (it crashed, or stopped at a failure) is a failed run with the reason dbt gave."""
    lines = [
        {"info": {"name": "MainReportVersion", "level": "info"}, "data": {}},
        {"info": {"name": "LogTestResult", "level": "info"}, "data": {"status": "warn"}},
        {MARKER: {"success": True, "exception": None}},
        {"info": {"name": "MainEncounteredError", "level": "error"}, "data": {"exc": "boom\n> x"}},
        {MARKER: {"success": False, "exception": "DbtRuntimeError: boom"}},
    ]
    stdout = "not json\n" + "".join(json.dumps(line) + "\n" for line in lines)
    build, freshness, third = split_runs(stdout, "worker died\n", 3, 1)
    assert build.returncode == 0 and len(build.events) == 2
    assert build.of("LogTestResult") == [{"status": "warn"}]
    assert freshness.returncode == 1 and freshness.reason() == "boom"
    assert third.returncode == 1 and third.reason() == "worker died"


def _parsed(tmp_path: Path, name: str, dbt_vars: dict[str, Any]) -> dict[str, Any]:
    """What a parse records of each node: its config, refs, sources and node dependencies."""
    from dbt.cli.main import dbtRunner

    target = tmp_path / name
    args = ["parse", "--project-dir", str(REPO_ROOT), "--target", "local", "--quiet"]
    args += ["--target-path", str(target), "--vars", json.dumps(dbt_vars)]
    done = dbtRunner().invoke(args)
    assert done.success, done.exception
    recorded = {}
    for unique_id, node in done.result.nodes.items():
        recorded[unique_id] = {
            "config": node.config.to_dict(),
            "refs": [r.to_dict() for r in node.refs],
            "sources": node.sources,
            "nodes": node.depends_on.nodes,
            "code": node.raw_code,
        }
    return recorded


@pytest.mark.slow
def test_the_run_vars_change_nothing_a_parse_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's parse leaves RUN_VARS out: a model whose config, refs or sources came
    from a window or a plan var would run with the wrong ones. Here they must match."""
    (tmp_path / "profiles.yml").write_text((REPO_ROOT / "profiles.yml.example").read_text())
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    monkeypatch.setenv("WEBLOGS_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    fixed = {"lake_root": str(tmp_path / "lake")}
    scheduled = fixed | {"run_date": "2026-10-08", "run_plan": PLAN, "allow_full_refresh": True}
    window = fixed | {"startdate": "2026-10-01", "enddate": "2026-10-05"}
    assert set(scheduled) | set(window) == set(fixed) | RUN_VARS
    plain = _parsed(tmp_path, "fixed", fixed)
    assert plain and plain == _parsed(tmp_path, "scheduled", scheduled)
    assert plain == _parsed(tmp_path, "window", window)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("window", "plan", "message"),
    [
        (("2026-10-05", "2026-10-01"), None, "enddate 2026-10-01 is before startdate 2026-10-05"),
        (None, {"run_date": "2026-10-08", "run_plan": PLAN | {"arrivals_from_us": 1}},
         "run_plan: arrivals_from_us=1 is not a time"),
    ],
)  # fmt: skip
def test_a_run_var_the_parse_did_not_see_is_still_checked(
    tmp_path: Path, window: Any, plan: Any, message: str
) -> None:
    """The vars reach dbt after its parse: the on-run-start check stops the build, one line."""
    lake = build_fixture_lake(tmp_path)
    with pytest.raises(ModelsError) as raised:
        run_dbt_build(window, run_plan=plan, lake=lake, duckdb_path=tmp_path / "w.duckdb")
    assert message in str(raised.value) and "\n" not in str(raised.value), raised.value
    assert "dbt build failed" in str(raised.value)


def _log_names(log: Path) -> list[tuple[str, int]]:
    names = []
    for line in log.read_text().splitlines():
        try:
            info = json.loads(line)["info"]
        except (ValueError, KeyError, TypeError):
            continue
        names.append((info["name"], info.get("pid", 0)))
    return names


@pytest.mark.slow
def test_a_days_run_is_one_dbt_process_and_the_next_day_parses_nothing(tmp_path: Path) -> None:
    """Yesterday's scheduled run: one dbt process (parse, the plan's build, the report
    marts' build, freshness), one full
    parse. Today's, with another plan: no parse at all (the kept manifest), and its build
    counts the batch that arrived yesterday (the new plan reached dbt, not the parse's)."""
    lake = tmp_path / "lake"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBLOGS_", "DBT_"))}
    for number, batch in enumerate(fixture_batches()):
        day = datetime.now(UTC) - timedelta(days=2 - number)
        subprocess.run(
            [WEBLOGS, "transform", "--input", str(write_jsonl(tmp_path / f"b{number}.jsonl", batch)),
             "--lake", str(lake)],
            env={**env, "WEBLOGS_NOW": day.strftime("%Y-%m-%dT12:00:00Z")}, check=True,
            capture_output=True,
        )  # fmt: skip
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    logs = tmp_path / "logs"
    env |= {"DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(logs)}
    args = [WEBLOGS, "models", "--lake", str(lake), "--duckdb", str(tmp_path / "w.duckdb")]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    runs = []
    for extra in (["--run-date", yesterday], []):
        (logs / "dbt.log").unlink(missing_ok=True)
        done = subprocess.run(
            [*args, *extra], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
        )
        assert "sessions from" in done.stdout or "stale source" in done.stderr, done.stderr
        runs.append((_log_names(logs / "dbt.log"), (logs / "dbt.log").read_text()))
    (first, _), (second, second_text) = runs
    assert [n for n, _ in first].count("MainReportVersion") == 4, "parse, 2 builds, freshness"
    assert len({pid for _, pid in first}) == 1, "one dbt process"
    assert [n for n, _ in first].count("UnableToPartialParse") == 1
    # The next day's worker takes the manifest the first one kept (parse_key.py): no dbt
    # parse at all, not even a partial one; its two builds and freshness.
    assert [n for n, _ in second].count("MainReportVersion") == 3, "the next day parsed again"
    assert [n for n, _ in second].count("UnableToPartialParse") == 0
    assert f"weblogs scheduled run {datetime.now(UTC).date()}" in second_text


def test_a_run_that_ends_before_its_commands_leaves_no_dbt_behind(tmp_path: Path) -> None:
    """The planning failed, or there is nothing to run: the worker, parsing meanwhile,
    is stopped with its whole process group, and nothing is reported as run."""
    env = {**os.environ, "DBT_TARGET_PATH": str(tmp_path / "target")}
    args = ["--target", "local", "--project-dir", str(REPO_ROOT)]
    for close in (lambda s: s.close(), lambda s: s.run([])):
        session = DbtSession(args, {"lake_root": str(tmp_path)}, env)
        assert close(session) in (None, [])
        assert session.process.returncode is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(session.process.pid, 0)
