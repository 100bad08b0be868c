"""Benchmark: where a scheduled `weblogs models` run's wall time goes before and after dbt works.

    .venv/bin/python bench/startup.py [--repeat 3]

Over the small fixture lake of the dbt tests (tests/python/support/dbt_helpers.py; its
first batch arrived two days ago, its second yesterday), on the local target, each round
runs, in a fresh target folder (as the ECS task starts with none) and a fresh database:

1. the scheduled run of yesterday (`weblogs models --run-date <yesterday>`, as the image
   runs it: plan, `dbt build`, report, `dbt source freshness`), which builds the first
   batch's dates: the first run, dbt parses the whole project;
2. the scheduled run of today in the same folders, the next day's run: another plan (the
   second batch's dates), so other vars, and no parse at all: the worker takes the
   manifest it kept (weblogs/analytics/parse_key.py). This is the figure that matters: a
   daily run.

Each is timed whole; dbt's JSON log splits the dbt worker's work (one process per run,
weblogs/analytics/dbt_worker.py) into its parse and each command's set-up and execution.
"start-up" is the wall time less the execution of the build and of freshness: what the
run pays before and around dbt's SQL (Python, the import of dbt, the parse, the plan and
report queries); "until dbt's first command" and "after dbt's last command" split it
(the runner's start, planning and dbt's start-up overlap before; the report queries
come after). Also `import dbt.cli.main` in a fresh interpreter, what a process pays
first. Then dbt's start-up alone, three ways (`parse_pair`): two processes and a full
parse (before the worker), one process and dbt's partial parse, the worker with its kept
manifest; alternating, best of --repeat, as ratios measured in the same invocation. Best of --repeat rounds
for each figure. The models' unit tests are left out
(DBT_EXCLUDE_RESOURCE_TYPES=unit_test): they are the same work whatever the start-up.
"""

from __future__ import annotations

import argparse
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
#: parse_pair's sides: two processes and a full parse; dbt's partial parse; the kept manifest.
SIDES = ("before", "partial", "now")
DEFAULT_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def make_lake(work: Path, env: dict[str, str]) -> Path:
    """The fixture lake, written by `weblogs transform`: batch 1 two days ago, 2 yesterday."""
    lake = work / "lake"
    for number, batch in enumerate(fixture_batches()):
        day = datetime.now(UTC) - timedelta(days=2 - number)
        path = write_jsonl(work / f"batch{number}.jsonl", batch)
        subprocess.run(
            [str(BIN / "weblogs"), "transform", "--input", str(path), "--lake", str(lake)],
            env={**env, "WEBLOGS_NOW": day.strftime("%Y-%m-%dT12:00:00Z")}, check=True,
            capture_output=True,
        )  # fmt: skip
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    return lake


def invocations(log: Path) -> list[dict[str, Any]]:
    """Each dbt invocation of the log (parse, builds, freshness): its seconds by phase."""
    runs: list[dict[str, Any]] = []
    for line in log.read_text().splitlines():
        event = json.loads(line)
        name, ts = event["info"]["name"], datetime.fromisoformat(event["info"]["ts"])
        if name == "MainReportVersion":
            runs.append({"start": ts, "full_parse": False, "parse": True})
        elif name == "ConcurrencyLine":  # a command with threads: not `dbt parse`
            runs[-1]["run_from"], runs[-1]["parse"] = ts, False
        elif name in ("FinishedRunningStats", "CommandCompleted") and "run_to" not in runs[-1]:
            runs[-1]["run_to"] = ts
        if name == "CommandCompleted":
            runs[-1]["end"] = ts
        runs[-1]["full_parse"] = runs[-1]["full_parse"] or name == "UnableToPartialParse"
    for run in runs:
        run["whole"] = (run["end"] - run["start"]).total_seconds()
        run["setup"] = (run.get("run_from", run["end"]) - run["start"]).total_seconds()
        executed = run.get("run_to", run["end"]) - run.get("run_from", run["end"])
        run["execute"] = executed.total_seconds()
    return runs


def scheduled(run_date: str | None, args: list[str], env: dict[str, str], logs: Path) -> dict:
    """One scheduled run, timed whole, with its dbt worker's phases."""
    log = logs / "dbt.log"
    log.unlink(missing_ok=True)
    extra = ["--run-date", run_date] if run_date else []
    started = datetime.now(UTC)
    began = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "weblogs"), "models", *extra, *args],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - began
    if "sessions from" not in done.stdout and "stale source" not in done.stderr:
        sys.exit(f"the scheduled run {run_date or 'today'} built nothing: {done.stderr}")
    # The worker's parse (none when it took the kept manifest), then its commands: the
    # plan's build, the report marts' build (docs/analytics.md, The report marts), freshness.
    runs = invocations(log)
    parse = runs.pop(0) if runs[0]["parse"] else None
    *builds, freshness = runs
    executed = sum(run["execute"] for run in [*builds, freshness])
    return {
        "wall": wall,
        "start-up (wall - execution)": wall - executed,
        "until dbt's first command": (runs[0]["start"] - started).total_seconds(),
        "after dbt's last command": wall - (runs[-1]["end"] - started).total_seconds(),
        "parse": parse["whole"] if parse else 0.0,
        "full parse": bool(parse and parse["full_parse"]),
        "kept parse": parse is None,
        "builds set-up": sum(run["setup"] for run in builds),
        "builds execute": sum(run["execute"] for run in builds),
        "freshness set-up": freshness["setup"],
        "freshness execute": freshness["execute"],
    }


def one_round(work: Path, lake: Path, env: dict[str, str]) -> dict[str, float]:
    """Yesterday's scheduled run in fresh folders, then today's in the same, then the import."""
    target, logs = Path(tempfile.mkdtemp(dir=work)), Path(tempfile.mkdtemp(dir=work))
    env = {**env, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(logs)}
    duckdb = Path(tempfile.mkdtemp(dir=work)) / "w.duckdb"
    args = ["--lake", str(lake), "--duckdb", str(duckdb)]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    first = scheduled(yesterday, args, env, logs)
    second = scheduled(None, args, env, logs)
    if not first["full parse"] or not second["kept parse"]:
        sys.exit("expected a full parse on the first run only (the next day's keeps it)")
    flags = ("full parse", "kept parse")
    figures = {f"first run: {k}": v for k, v in first.items() if k not in flags}
    figures |= {f"next day's run: {k}": v for k, v in second.items() if k not in flags}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import dbt.cli.main"], env=env, check=True)
    return figures | {"import dbt": time.perf_counter() - began}


def day_vars(lake: Path, day: int) -> str:
    """The vars `weblogs models` gave dbt for the scheduled run of 2026-10-(8 + day)."""
    run = datetime(2026, 10, 8, tzinfo=UTC) + timedelta(days=day)
    micros = int(run.timestamp()) * 1_000_000
    plan = {
        "run_date": f"{run:%Y-%m-%d}", "arrivals_from_us": micros - 86_400_000_000,
        "arrivals_to_us": micros, "full_dates": [f"{run - timedelta(days=1):%Y-%m-%d}"],
        "patch_dates": [], "new_rows": [],
    }  # fmt: skip
    return json.dumps({"lake_root": str(lake), "run_date": plan["run_date"], "run_plan": plan})


def parse_pair(work: Path, lake: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    """dbt's start-up alone, three ways, alternating, best of `repeat`.

    Before: a day's run started two dbt processes with that day's vars: the first (the
    build's) parsed in full, the vars being new; the second (freshness) reused it. Then:
    one process with the fixed vars, whose parse the previous day left (dbt's partial
    parse; the worker until the kept manifest). Now: the worker itself with the kept
    manifest (weblogs/analytics/parse_key.py), from its start until it has the manifest
    (it is sent no command). Each side runs in a fresh interpreter (import, set-up, parse
    or load), in its own target folder; the commands' own set-up and SQL are the same on
    every side and left out.
    """
    dbt = [str(BIN / "dbt"), "parse", "--project-dir", str(ROOT), "--target", "local"]
    env = {**env, "DBT_PROFILES_DIR": str(work), "WEBLOGS_DUCKDB_PATH": str(work / "p.duckdb")}
    sides = {name: {**env, "DBT_TARGET_PATH": tempfile.mkdtemp(dir=work)} for name in SIDES}
    fixed = json.dumps({"lake_root": str(lake)})
    worker = [sys.executable, "-P", str(ROOT / "weblogs" / "analytics" / "dbt_worker.py")]
    header = json.dumps(
        {"args": ["--target", "local", "--project-dir", str(ROOT), "--log-format", "json"],
         "vars": {"lake_root": str(lake)}}
    ) + "\n"  # fmt: skip

    def run(side: str, day: int) -> None:
        if side == "now":
            subprocess.run(worker, input=header, env=sides[side], check=True, capture_output=True,
                           text=True)  # fmt: skip
            return
        dbt_vars = day_vars(lake, day) if side == "before" else fixed
        subprocess.run([*dbt, "--vars", dbt_vars], env=sides[side], check=True, capture_output=True)

    for side in SIDES:  # yesterday's parse (and the worker's kept manifest)
        run(side, 0)
    best = dict.fromkeys(SIDES, float("inf"))
    for day in range(1, repeat + 1):
        for side in SIDES:
            began = time.perf_counter()
            for _ in ("build", "freshness") if side == "before" else ("one process",):
                run(side, day)
            best[side] = min(best[side], time.perf_counter() - began)
    return {
        "dbt start-up of a day's run, before (two processes, a full parse), s": best["before"],
        "dbt start-up of a day's run, one process, dbt's partial parse, s": best["partial"],
        "dbt start-up of a day's run, now (the worker, the kept manifest), s": best["now"],
        "ratio now/before": best["now"] / best["before"],
        "ratio now/partial parse": best["now"] / best["partial"],
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
        pair = parse_pair(work, lake, env, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {name: min(r[name] for r in rounds) for name in rounds[0]} | pair
    for name, value in best.items():
        print(f"{name:>70}: {value:6.2f}")
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[0]
    figures: list[tuple[str, object]] = [
        (n if n.startswith("ratio") or n.endswith(", s") else f"{n}, s", round(v, 2))
        for n, v in best.items()
    ]
    figures.append(("load average (1 min) at the end", load))
    results.record("bench/startup.py", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
