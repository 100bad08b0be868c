"""Benchmark: the transformation Lambda's handler path next to a plain pyarrow baseline.

    .venv/bin/python bench/transform.py [--repeat 7]

Both sides get the same Kinesis-shaped batches (base64 records of realistic
events) and write hive-partitioned Snappy Parquet to a local folder:

- baseline: base64 + orjson decode into column lists, `pa.Table.from_pydict`,
  `pyarrow.dataset.write_dataset` with hive partitioning; no validation.
- handler: `lambdas.transformation.process_batch` (powertools batch
  processing, the full contract, derived ids, per-hour Parquet objects) on a
  LocalLake, i.e. the Lambda minus the network.

A third side, alternating with the two, is the handler with Python's cyclic collector
left running (as before weblogs/core/collector.py paused it per batch): the ratio of the
two is what that pause saves, in the same invocation.

It prints events/s for 500- and 10,000-record batches and the ratio
handler/baseline (target >= 1.0 on 10,000, issue 32; best of --repeat alternating
runs), then the peak RSS of a cold process handling one 10,000-record batch for each
side (target < 128 MB).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # one log line per batch would be noise
sys.path.insert(0, str(ROOT))

import results  # noqa: E402

T0 = 1_791_000_000  # 2026-10-03T04:00:00Z
PAGES = [f"https://shop.example.com/{p}" for p in ("", "cart", "search", "p/1", "p/2", "help")]


def make_events(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """Realistic valid events: sessions of several events over a few hours."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        session = i // 8
        events.append(
            {
                "event_id": f"evt-{seed}-{i:08d}",
                "session_id": f"sess-{seed}-{session:07d}",
                "user_id": f"user-{session % 997}" if session % 4 else None,
                "event_type": rng.choice(["page_view", "page_view", "click", "scroll", "search"]),
                "page_url": rng.choice(PAGES),
                "referrer": rng.choice([None, "https://www.example.org/"]),
                "timestamp": T0 + i // 2,
                "device_type": rng.choice(["mobile", "desktop", "tablet"]),
                "browser": rng.choice(["chrome", "firefox", "safari"]),
                "os": rng.choice(["ios", "android", "windows", "macos"]),
                "country": rng.choice(["PT", "DE", "US", "BR"]),
            }
        )
    return events


def kinesis_records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    arrival = T0 + 3600.0
    return [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": e["session_id"],
                "sequenceNumber": f"{49_600_000_000 + i:056d}",
                "data": base64.b64encode(json.dumps(e).encode()).decode(),
                "approximateArrivalTimestamp": arrival,
            },
            "eventSource": "aws:kinesis",
            "eventID": f"shardId-000000000000:{49_600_000_000 + i:056d}",
            "eventName": "aws:kinesis:record",
            "awsRegion": "us-east-1",
        }
        for i, e in enumerate(events)
    ]


def baseline(records: list[dict[str, Any]], out: Path) -> int:
    """The floor: decode, build columns, write a hive-partitioned dataset."""
    import orjson
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    names = ("event_id", "session_id", "user_id", "event_type", "page_url", "referrer")
    names += ("timestamp", "device_type", "browser", "os", "country")
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for record in records:
        event = orjson.loads(base64.b64decode(record["kinesis"]["data"]))
        for name in names:
            columns[name].append(event.get(name))
    table = pa.Table.from_pydict(columns)
    ts = pc.cast(pc.multiply(table["timestamp"], 1000), pa.timestamp("ms"))
    table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", ts)
    for part, fmt in (("year", "%Y"), ("month", "%m"), ("day", "%d"), ("hour", "%H")):
        table = table.append_column(part, pc.strftime(ts, format=fmt))
    ds.write_dataset(
        table,
        out,
        format="parquet",
        partitioning=["year", "month", "day", "hour"],
        partitioning_flavor="hive",
        existing_data_behavior="overwrite_or_ignore",
        file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
    )
    return table.num_rows


def handler_path(records: list[dict[str, Any]], out: Path) -> int:
    from lambdas.transformation import metrics, process_batch
    from weblogs.adapters.lake import LocalLake
    from weblogs.adapters.notify import LogNotifier

    response = process_batch(records, LocalLake(out), LogNotifier(), str(out))
    assert not response["batchItemFailures"], response
    metrics.clear_metrics()  # the handler's decorator flushes them after each invocation
    return len(records)


def handler_collector_on(records: list[dict[str, Any]], out: Path) -> int:
    """The handler with the cyclic collector left running, as before it was paused per
    batch (weblogs/core/collector.py): the same invocation measures what the pause saves."""
    import contextlib

    import lambdas.transformation as lambda_module

    paused = lambda_module.collector_paused
    lambda_module.collector_paused = contextlib.nullcontext  # type: ignore[assignment]
    try:
        return handler_path(records, out)
    finally:
        lambda_module.collector_paused = paused


def throughput(fn: Any, batches: list[list[dict[str, Any]]], repeat: int) -> float:
    """Best-of-`repeat` events/s over all batches (each batch is one invocation)."""
    total = sum(len(b) for b in batches)
    timings = []
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="weblogs-bench-"))
        start = time.perf_counter()
        for batch in batches:
            fn(batch, out)
        timings.append(time.perf_counter() - start)
        shutil.rmtree(out)
    return total / min(timings)


def cold_peak_rss_mb(side: str, n: int) -> float:
    """Peak RSS of a fresh interpreter that imports its side and handles one batch."""
    code = f"""
import sys, tempfile
sys.modules['pandas'] = None  # as in the Lambda package, which does not ship pandas
sys.path.insert(0, {str(ROOT)!r})
sys.path.insert(0, {str(ROOT / "bench")!r})
import transform as bench
records = bench.kinesis_records(bench.make_events({n}))
bench.{side}(records, __import__('pathlib').Path(tempfile.mkdtemp()))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (big) parent.
print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (best is kept)")
    args = parser.parse_args()

    print(
        f"weblogs transform benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M}Z  python {sys.version.split()[0]}"
    )
    rows, collector = [], []
    for batch_size, batch_count in ((500, 20), (10_000, 1)):
        events = make_events(batch_size * batch_count)
        records = kinesis_records(events)
        batches = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
        throughput(handler_path, batches[:1], 1)  # warm imports for both sides
        throughput(baseline, batches[:1], 1)
        base, ours, gc_on = 0.0, 0.0, 0.0
        for _ in range(args.repeat):  # alternate, so a change of load lands on every side
            base = max(base, throughput(baseline, batches, 1))
            ours = max(ours, throughput(handler_path, batches, 1))
            gc_on = max(gc_on, throughput(handler_collector_on, batches, 1))
        rows.append((batch_size, base, ours))
        collector.append((batch_size, gc_on, ours))
    print(f"{'batch':>8} {'baseline ev/s':>14} {'handler ev/s':>13} {'ratio':>6}")
    for batch_size, base, ours in rows:
        print(f"{batch_size:>8} {base:>14,.0f} {ours:>13,.0f} {ours / base:>6.2f}")
    base_rss = cold_peak_rss_mb("baseline", 10_000)
    ours_rss = cold_peak_rss_mb("handler_path", 10_000)
    print(
        f"peak RSS, cold process, one 10,000-record batch: handler {ours_rss:.0f} MB, "
        f"baseline {base_rss:.0f} MB (target < 128 MB)"
    )
    ratio = rows[-1][2] / rows[-1][1]
    print(
        f"verdict: ratio on 10,000-record batches {ratio:.2f} (target >= 1.0): "
        f"{'met' if ratio >= 1.0 else 'NOT met'}; memory {'met' if ours_rss < 128 else 'NOT met'}"
    )
    figures: list[tuple[str, object]] = []
    for batch_size, base, ours in rows:
        figures += [
            (f"batch {batch_size:,}: baseline events/s", round(base)),
            (f"batch {batch_size:,}: handler events/s", round(ours)),
            (f"batch {batch_size:,}: ratio handler/baseline", round(ours / base, 2)),
        ]
    for batch_size, gc_on, ours in collector:
        print(f"batch {batch_size}: handler with the collector running {gc_on:,.0f} ev/s")
        figures += [
            (f"batch {batch_size:,}: handler, collector not paused, events/s", round(gc_on)),
            (
                f"batch {batch_size:,}: ratio handler/handler with the collector",
                round(ours / gc_on, 2),
            ),
        ]
    figures += [
        ("peak RSS, cold, one 10,000-record batch: handler MB", round(ours_rss)),
        ("peak RSS, cold, one 10,000-record batch: baseline MB", round(base_rss)),
    ]
    results.record("bench/transform.py", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
