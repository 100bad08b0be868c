"""The test suite's Trino: the default JVM against the `quick` one (server.QUICK_JVM).

The Trino tests start a server, build the dbt project on it over a small lake and
stop it: a JVM that lives minutes, where C2's compiler threads and G1's concurrent
marking cost CPU that the other test worker needs. This starts a server of each
profile in turn over the session fixture's lake (trino_helpers.trino_fixture_lake),
runs the range build of test_trino_dbt.py's `built` fixture on it, and reads the
JVM's own CPU time before stopping it; alternating, best of `--rounds`.

    .venv/bin/python bench/trino_jvm.py --rounds 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "python" / "support")]

import results  # noqa: E402
import trino  # noqa: E402
from dbt_helpers import END, START, DbtProject  # noqa: E402
from trino_helpers import trino_fixture_lake  # noqa: E402

from weblogs.trino import server, tables  # noqa: E402


def jvm_cpu_seconds(pid: int) -> float:
    """User + system time of the process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(root: Path, lake: Path, quick: bool, index: int) -> dict[str, float]:
    """Start, declare the lake, build START..END on Trino, stop: wall and JVM CPU."""
    state = root / f"state-{'quick' if quick else 'default'}-{index}"
    began = time.perf_counter()
    running = server.start(state, lake, quick=quick)
    try:
        started = time.perf_counter() - began
        connection = trino.dbapi.connect(
            host="127.0.0.1", port=running.port, user="weblogs", catalog="hive"
        )
        tables.declare_lake(connection.cursor(), lake, running.root)
        project = DbtProject(
            root / f"dbt-{'quick' if quick else 'default'}-{index}",
            lake,
            env={
                "WEBLOGS_DBT_TARGET": "trino",
                "WEBLOGS_TRINO_PORT": str(running.port),
                "WEBLOGS_TRINO_SCHEMA": "weblogs_range",
                "WEBLOGS_TRINO_THREADS": "4",
            },
        )
        began_build = time.perf_counter()
        project.build(START, END)
        built = time.perf_counter() - began_build
        return {"start": started, "build": built, "cpu": jvm_cpu_seconds(running.pid)}
    finally:
        server.stop(state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each profile (best of)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="weblogs-trino-jvm-"))
    lake = trino_fixture_lake(root)
    best: dict[bool, dict[str, float]] = {}
    for index in range(args.rounds):
        for quick in (False, True) if index % 2 == 0 else (True, False):
            run = one_run(root, lake, quick, index)
            print(f"round {index} quick={quick}: {run}", flush=True)
            kept = best.setdefault(quick, dict(run))
            for name, value in run.items():
                kept[name] = min(kept[name], value)
    default, quick = best[False], best[True]
    rows: list[tuple[str, object]] = [("rounds (alternating, best of)", args.rounds)]
    for name, label in (("start", "start-up to answering, s"), ("build", "dbt build, s")):
        rows += [(f"{label}, default JVM", round(default[name], 1))]
        rows += [(f"{label}, quick JVM", round(quick[name], 1))]
    rows += [
        ("JVM CPU (start + build), default, s", round(default["cpu"], 1)),
        ("JVM CPU (start + build), quick, s", round(quick["cpu"], 1)),
        ("ratio quick/default, build wall", round(quick["build"] / default["build"], 2)),
        ("ratio quick/default, JVM CPU", round(quick["cpu"] / default["cpu"], 2)),
    ]
    results.record("bench/trino_jvm.py", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
