"""Benchmark: where a scheduled `weblogs models` run's wall time goes before and after dbt works.

    .venv/bin/python bench/startup.py [--repeat 3]

Over the small fixture lake of the dbt tests (tests/python/support/dbt_helpers.py, its
arrivals dated yesterday so today's scheduled run builds them), on the local target,
each round runs, in a fresh target folder (as the ECS task starts with none):

1. the scheduled run itself, `weblogs models` as the image runs it (plan, `dbt build`,
   report, `dbt source freshness`), timed whole; dbt's JSON log splits each of its
   two dbt processes into set-up (adapter, profile), parse and execution;
2. `dbt source freshness` again in the same target folder, with the build's vars
   (what the run now does: dbt reuses the build's parse) and then with none (what it
   did before: a full parse), each timed whole: their difference is what the change
   saves per run;
3. `import dbt.cli.main` in a fresh interpreter: what every dbt process pays first.

Best of --repeat rounds for each figure. The models' unit tests are left out
(DBT_EXCLUDE_RESOURCE_TYPES=unit_test): they are the same work whatever the start-up.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "python" / "support"))

import results  # noqa: E402
from dbt_helpers import CUSTOMERS, RATINGS, fixture_batches, write_csv, write_jsonl  # noqa: E402

BIN = Path(sys.executable).parent
DEFAULT_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def make_lake(work: Path, env: dict[str, str]) -> Path:
    """The fixture lake, written by `weblogs transform` with yesterday's clock."""
    lake = work / "lake"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT12:00:00Z")
    for number, batch in enumerate(fixture_batches()):
        path = write_jsonl(work / f"batch{number}.jsonl", batch)
        subprocess.run(
            [str(BIN / "weblogs"), "transform", "--input", str(path), "--lake", str(lake)],
            env={**env, "WEBLOGS_NOW": yesterday}, check=True, capture_output=True,
        )  # fmt: skip
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    return lake


def phases(log: Path) -> list[dict[str, Any]]:
    """Each dbt process of the log: its vars, set-up, parse and execution seconds."""
    runs: list[dict[str, Any]] = []
    for line in log.read_text().splitlines():
        event = json.loads(line)
        name, ts = event["info"]["name"], datetime.fromisoformat(event["info"]["ts"])
        if name == "MainReportVersion":
            runs.append({"start": ts})
        elif name == "StateCheckVarsHash":  # the CLI vars, as Python's pprint spells them
            runs[-1]["vars"] = json.dumps(ast.literal_eval(event["data"]["vars"]))
            runs[-1]["parse_from"] = ts
        elif name == "FoundStats":
            runs[-1]["parse_to"] = ts
        elif name == "ConcurrencyLine":
            runs[-1]["run_from"] = ts
        elif name in ("FinishedRunningStats", "CommandCompleted") and "run_to" not in runs[-1]:
            runs[-1]["run_to"] = ts
        runs[-1]["full_parse"] = runs[-1].get("full_parse") or name == "UnableToPartialParse"
    for run in runs:
        run["setup"] = (run["parse_from"] - run["start"]).total_seconds()
        run["parse"] = (run["parse_to"] - run["parse_from"]).total_seconds()
        run["execute"] = (run["run_to"] - run["run_from"]).total_seconds()
    return runs


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - began


def freshness_alone(
    dbt: list[str], dbt_vars: str, env: dict[str, str], logs: Path, full: bool
) -> float:
    """`dbt source freshness` with `dbt_vars`, timed; checks it parsed as expected."""
    wall = timed([*dbt, "--vars", dbt_vars], {**env, "DBT_LOG_PATH": str(logs)})
    [run] = phases(logs / "dbt.log")
    if run["full_parse"] is not full:
        sys.exit(f"freshness with {dbt_vars}: expected full parse {full}")
    return wall


def one_round(work: Path, lake: Path, env: dict[str, str]) -> dict[str, float]:
    """One scheduled run in a fresh target folder, then the freshness pair, then the import."""
    target, logs = Path(tempfile.mkdtemp(dir=work)), Path(tempfile.mkdtemp(dir=work))
    env = {**env, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(logs)}
    duckdb = Path(tempfile.mkdtemp(dir=work)) / "w.duckdb"
    args = ["--lake", str(lake), "--duckdb", str(duckdb)]
    wall = timed([str(BIN / "weblogs"), "models", *args], env)
    build, freshness = phases(logs / "dbt.log")
    if not build["full_parse"] or freshness["full_parse"]:
        sys.exit("expected one full parse (the build's) and the freshness reusing it")
    dbt = [str(BIN / "dbt"), "source", "freshness", "--project-dir", str(ROOT), "--target", "local"]
    dbt += ["--log-format-file", "json"]
    env |= {"WEBLOGS_DUCKDB_PATH": str(duckdb), "WEBLOGS_LAKE_ROOT": str(lake)}
    env["DBT_PROFILES_DIR"] = str(work)
    same, other = (
        freshness_alone(dbt, dbt_vars, env, Path(tempfile.mkdtemp(dir=work)), full)
        for dbt_vars, full in ((build["vars"], False), (json.dumps({"lake_root": str(lake)}), True))
    )
    imports = timed([sys.executable, "-c", "import dbt.cli.main"], env)
    return {
        "wall": wall,
        "build setup": build["setup"],
        "build parse": build["parse"],
        "build execute": build["execute"],
        "freshness setup": freshness["setup"],
        "freshness parse": freshness["parse"],
        "freshness execute": freshness["execute"],
        "freshness, build's vars": same,
        "freshness, other vars": other,
        "import": imports,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=DEFAULT_DIR, help="work folder (default /dev/shm)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-", dir=args.dir))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBLOGS_", "DBT_"))}
    env |= {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}
    try:
        shutil.copy(ROOT / "profiles.yml.example", work / "profiles.yml")
        lake = make_lake(work, env)
        rounds = [one_round(work, lake, env) for _ in range(args.repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {name: min(r[name] for r in rounds) for name in rounds[0]}
    for name, value in best.items():
        print(f"{name:>26}: {value:6.2f} s")
    saved = best["freshness, other vars"] - best["freshness, build's vars"]
    print(f"{'saved per run':>26}: {saved:6.2f} s")
    figures: list[tuple[str, object]] = [(f"{n}, s", round(v, 2)) for n, v in best.items()]
    figures.append(
        ("saved per scheduled run (freshness: other vars - build's vars), s", round(saved, 2))
    )
    results.record("bench/startup.py", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
