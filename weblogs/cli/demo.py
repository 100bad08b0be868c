"""`weblogs demo`: the whole pipeline on this machine, no AWS account needed.

simulator (HTTP on 127.0.0.1) -> real consumer (local backend: lake archives +
a local stream) -> the transformation (same code as the Lambda) -> dbt models
on DuckDB -> headline figures. It says where everything went.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from weblogs.adapters.lake import default_lake_root
from weblogs.cli.transform import transform_input
from weblogs.core import layout
from weblogs.core.errors import UsageError

#: Written into a lake the demo created; only such a lake is wiped by the next demo run.
MARKER = ".weblogs-demo"
PREFIXES = layout.PREFIXES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline locally: simulator, consumer, transformation, dbt models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events", type=int, default=20_000, help="events to simulate (default 20000)"
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument(
        "--lake",
        type=Path,
        default=None,
        help="lake folder (default: $WEBLOGS_LAKE_ROOT, else data/lake); must be empty or a previous demo's",
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=None,
        help="DuckDB file for the models (default: $WEBLOGS_DUCKDB_PATH, else data/weblogs.duckdb)",
    )
    parser.set_defaults(func=run)


def prepare_lake(lake: Path) -> None:
    """Start from an empty lake, but never wipe one the demo did not create."""
    if lake.exists() and any(lake.iterdir()):
        if not (lake / MARKER).exists():
            raise UsageError(
                f"lake folder {lake} has data the demo did not write; "
                "pass --lake to an empty folder (or set WEBLOGS_LAKE_ROOT)"
            )
        shutil.rmtree(lake)
    lake.mkdir(parents=True, exist_ok=True)
    (lake / MARKER).write_text(
        "created by `weblogs demo`; the next demo run replaces this folder\n"
    )


def lake_inventory(lake: Path) -> list[tuple[str, int, int]]:
    """(prefix, objects, lines or rows) for each prefix of the lake layout."""
    import pyarrow.parquet as pq

    rows = []
    for prefix in PREFIXES:
        files = [
            p for p in (lake / prefix).rglob("*") if p.is_file() and not p.name.startswith(".")
        ]
        if prefix == layout.EVENTS:
            count = sum(pq.read_metadata(p).num_rows for p in files)
        else:
            count = sum(sum(1 for _ in p.open("rb")) for p in files)
        rows.append((prefix, len(files), count))
    return rows


def dashboard_line(duckdb_path: Path) -> str:
    """Build the dashboards next to the warehouse and say where; without npm, say how."""
    from weblogs.cli.dashboard import DEFAULT_NODE_MODULES
    from weblogs.dashboard import DashboardError, build_site

    out = duckdb_path.parent / "dashboard"
    try:
        build_site(duckdb_path, out, DEFAULT_NODE_MODULES)
    except DashboardError as exc:
        return f"    dashboard: not built ({exc}); then `make dashboard`"
    return f"    dashboard: file://{out / 'index.html'}"


def run(args: argparse.Namespace) -> int:
    # Imported here: `weblogs --help` should not load the consumer, dbt's runner or YAML.
    from weblogs.analytics import ModelsError, build_and_report, default_duckdb_path
    from weblogs.cli.local_pipeline import default_start, run_local_pipeline

    if args.events < 1:
        raise UsageError("--events must be at least 1")
    lake = (args.lake or default_lake_root()).resolve()
    duckdb_path = (args.duckdb or default_duckdb_path(os.environ)).resolve()
    stream = lake.parent / (lake.name + "-stream")
    prepare_lake(lake)
    shutil.rmtree(stream, ignore_errors=True)
    duckdb_path.unlink(missing_ok=True)
    start = default_start(args.events)
    began = time.perf_counter()

    print(
        f"1/4 ingestion: simulator on 127.0.0.1 -> consumer (local backend), {args.events} events"
    )
    counts = run_local_pipeline(lake, stream, events=args.events, seed=args.seed, start=start)
    print(
        "    polled {polled}, forwarded to the stream {forwarded}, failed {failed}".format(
            polled=counts.get("polled"),
            forwarded=counts.get("forwarded"),
            failed=counts.get("failed", 0) + counts.get("kinesis_failed", 0),
        )
    )

    print(f"2/4 transformation: {stream} -> {lake}/{layout.EVENTS} (same code as the Lambda)")
    records_in, written, failed, _ = transform_input(stream, lake)
    print(f"    {records_in} records in, {written} written, {failed} failed")

    startdate, enddate = f"{start:%Y-%m-%d}", f"{datetime.now(UTC):%Y-%m-%d}"
    print(f"3/4 models: dbt build on DuckDB ({duckdb_path}) for {startdate} .. {enddate}")
    try:
        report = build_and_report(
            startdate, enddate, lake=lake, duckdb_path=duckdb_path, target="local"
        )
    except ModelsError as exc:
        raise UsageError(f"dbt build failed: {exc}") from exc

    print("4/4 where everything went:")
    print(f"    {'prefix':<32} {'objects':>8} {'rows/lines':>11}")
    for prefix, objects, count in lake_inventory(lake):
        print(f"    {prefix + '/':<32} {objects:>8} {count:>11}")
    print(f"    stream (local Kinesis): {stream}")
    print(f"    models: {duckdb_path} (tables engagement_metrics, session_metrics, ...)")
    print()
    print(report, end="")
    print(dashboard_line(duckdb_path))
    print(f"\ndemo finished in {time.perf_counter() - began:.0f} s. Next:")
    print(f"  .venv/bin/weblogs models --lake {lake} --startdate {startdate} --enddate {enddate}")
    print("  make dashboard-dev    # the dashboards, served live on http://127.0.0.1:8081")
    print("  make docs    # the dbt docs site, served on http://127.0.0.1:8080")
    return 0
