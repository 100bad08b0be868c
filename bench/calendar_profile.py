"""Where the calendar test's time goes (tests/python/dbt/test_dbt_calendar.py).

Replays the test's first `--days` days in this process with the test module's own
functions (the lake, the deliveries, the transformation, the in-process `dbt build` on
a copy of the manifest parsed once, the Python reference, the read days) and times each
step, with each build's node time by kind from its run_results.json. The test is the
heaviest unit of `make pytest`; this says which part of a scheduled day to cut.

    .venv/bin/python bench/calendar_profile.py --days 6
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "python" / "support"), str(ROOT / "tests" / "python" / "dbt")]

import pytest  # noqa: E402
import results  # noqa: E402
import test_dbt_calendar as cal  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=6, help="days replayed (the test: 40)")
    args = parser.parse_args()
    from dbt.cli.main import dbtRunner

    patch = pytest.MonkeyPatch()
    tmp = Path(tempfile.mkdtemp(prefix="weblogs-calendar-"))
    spent: dict[str, float] = defaultdict(float)
    share = (0.0, 0.0)
    try:
        lake, project, common, manifest = cal.in_process_project(
            tmp, patch, users=25, parse_run_date="2026-08-02"
        )
        plan = cal.deliveries()
        for index in range(args.days):
            day = cal.FIRST_DAY + timedelta(days=index)
            began = time.perf_counter()
            source = cal.write_jsonl(tmp / f"deliveries-{day}.jsonl", plan.get(day, []))
            arrived = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
            cal.transform_input(source, lake, now=arrived)
            spent["transformation"] += time.perf_counter() - began
            build = ["build", *common, "--vars", f"{{run_date: {day + timedelta(days=1)}}}"]
            if index:
                build += ["--exclude", "resource_type:unit_test"]
            began = time.perf_counter()
            copied = copy.deepcopy(manifest)
            spent["manifest copy"] += time.perf_counter() - began
            began = time.perf_counter()
            done = dbtRunner(manifest=copied).invoke(build)
            spent["build, day 0" if not index else "builds, later days"] += (
                time.perf_counter() - began
            )
            cal.release_duckdb()
            if not done.success:
                sys.exit(f"{day}: dbt build failed: {done.exception}")
            run = json.loads((project.target_path / "run_results.json").read_text())
            kinds: dict[str, float] = defaultdict(float)
            for result in run["results"]:
                kinds[result["unique_id"].split(".")[0]] += result["execution_time"]
            print(f"day {index}: " + ", ".join(f"{k} {v:.2f} s" for k, v in kinds.items()))
            if index:
                share = (share[0] + kinds["test"], share[1] + sum(kinds.values()))
            began = time.perf_counter()
            cal.assert_equal_to_reference(project, lake, day)
            cal.read_days(project)
            spent["reference and read days"] += time.perf_counter() - began
    finally:
        patch.undo()
    rows: list[tuple[str, object]] = [(f"{k}, s", round(v, 2)) for k, v in spent.items()]
    if share[1]:
        rows.append(
            ("data tests' share of the later days' node time", f"{share[0] / share[1]:.0%}")
        )
    results.record("bench/calendar_profile.py", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
