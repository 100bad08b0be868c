"""What a day of 1M events costs in Athena scans, with and without partition pruning.

    .venv/bin/python bench/athena_cost.py [--events 200000] [--batch 116]

Measures Parquet bytes per event by writing simulator traffic through the
project's own transformation (`weblogs.core.transform.transform_records` +
`parquet_bytes`, i.e. exactly what the Lambda writes), in two file regimes:

- Lambda batches: one object per partition per Kinesis batch. At 1M events/day
  (11.6 events/s) and a 10 s batching window a batch holds ~116 records.
- hourly files: one object per hour (~41,700 records), e.g. after compaction.

It also writes the sample the Lambda's way into a throw-away lake (one object per
batch per hour, `write_result`) and runs `weblogs compact` on it (`weblogs.adapters.compaction`),
to count the objects per hour partition and a daily run opens, before and after.

Then it prices the dbt run's scan of the events table at Athena's list price
($5 per TB scanned, 10 MB minimum per query): the run reads startdate - 1 to
enddate + 1 (docs/contract.md#3-the-analytics-tables) when the partition filter prunes, and the whole
history when it does not. The headline is a ratio, pruned / unpruned, measured
in the same process (no timings are involved).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402
import results  # noqa: E402

from weblogs.adapters.compaction import compact  # noqa: E402
from weblogs.adapters.lake import LocalLake, write_result  # noqa: E402
from weblogs.core.transform import parquet_bytes, transform_records  # noqa: E402
from weblogs.simulator import TrafficGenerator  # noqa: E402

EVENTS_PER_DAY = 1_000_000
PRICE_PER_TB = 5.0  # USD, Athena SQL, us-east-1 list price
TB = 1024**4  # Athena bills per TB of 2^40 bytes, rounded up to the MB
MIN_BYTES = 10 * 1024**2  # 10 MB minimum per query
GET_PRICE = 0.0004 / 1000  # USD per S3 GET (S3 Standard, us-east-1)
GETS_PER_OBJECT = 2  # Athena reads a Parquet footer, then the column chunks
BATCH_WINDOW_S = 10  # MaximumBatchingWindowInSeconds in deploy/template.yaml
NOW = datetime(2100, 1, 1, tzinfo=UTC)  # simulated traffic may be "in the future" of today


def measure(payloads: list[bytes], batch: int) -> tuple[int, int, int, dict[str, int]]:
    """(valid events, bytes as Lambda batches, files written, bytes per column hourly)."""
    batch_bytes = files = valid = 0
    for start in range(0, len(payloads), batch):
        result = transform_records(payloads[start : start + batch], stage="bench", now=NOW)
        valid += result.written
        for table in result.partitions.values():
            batch_bytes += len(parquet_bytes(table))
            files += 1
    return valid, batch_bytes, files, {}


def hourly_bytes(payloads: list[bytes]) -> tuple[int, dict[str, int]]:
    """Bytes when each hour of the sample is one object, and the compressed size per column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    result = transform_records(payloads, stage="bench", now=NOW)
    table = pa.concat_tables(result.partitions.values())
    per_hour = round(EVENTS_PER_DAY / 24)
    total = 0
    columns: dict[str, int] = {}
    for start in range(0, table.num_rows, per_hour):
        data = parquet_bytes(table.slice(start, per_hour))
        total += len(data)
        meta = pq.ParquetFile(pa.BufferReader(data)).metadata
        for rg in range(meta.num_row_groups):
            for col in range(meta.num_columns):
                chunk = meta.row_group(rg).column(col)
                name = chunk.path_in_schema
                columns[name] = columns.get(name, 0) + chunk.total_compressed_size
    return total, columns


def compacted(payloads: list[bytes], batch: int) -> dict[str, float]:
    """The sample written as the Lambda writes it (one object per batch per hour, through
    `write_result`) into a throw-away lake, then `weblogs compact` on it: objects per hour
    partition and bytes per event, before and after."""
    with tempfile.TemporaryDirectory(prefix="weblogs-bench-cost-") as root:
        lake = LocalLake(root)
        for number, start in enumerate(range(0, len(payloads), batch)):
            result = transform_records(payloads[start : start + batch], stage="bench", now=NOW)
            write_result(lake, result, name=f"batch-{number:06d}", failed_prefix="failed")

        def objects() -> tuple[int, int, int]:
            files = list((Path(root) / "events").rglob("*.parquet"))
            hours = len({f.parent for f in files})
            return len(files), sum(f.stat().st_size for f in files), hours

        before, before_bytes, hours = objects()
        # A day after NOW: the sample's latest valid hour (NOW + 1 day at most) is closed too.
        stats = compact(LocalLake(Path(root)), now=NOW + timedelta(days=2), grace_seconds=0)
        assert not stats.problems, stats.problems
        after, after_bytes, _ = objects()
        valid = sum(
            pq.read_metadata(f).num_rows for f in (Path(root) / "events").rglob("*.parquet")
        )
    return {
        "hours": hours,
        "per_hour_before": before / hours,
        "per_hour_after": after / hours,
        "bytes_before": before_bytes / valid,
        "bytes_after": after_bytes / valid,
        "events_per_hour": valid / hours,
    }


def cost(nbytes: float) -> float:
    return max(nbytes, MIN_BYTES) / TB * PRICE_PER_TB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="sample size (default 200k)")
    parser.add_argument("--batch", type=int, default=116, help="records per Lambda batch")
    args = parser.parse_args()

    generator = TrafficGenerator(seed=0)
    payloads = [json.dumps(item).encode() for item in generator.events(args.events)]
    raw_bytes = sum(len(p) + 1 for p in payloads)
    valid, batch_total, files, _ = measure(payloads, args.batch)
    hourly_total, columns = hourly_bytes(payloads)
    per_event_batch = batch_total / valid
    per_event_hourly = hourly_total / valid
    valid_share = valid / len(payloads)
    day_batch = per_event_batch * EVENTS_PER_DAY * valid_share
    day_hourly = per_event_hourly * EVENTS_PER_DAY * valid_share

    print(
        f"sample: {len(payloads)} API items, {valid} valid ({valid_share:.1%}), "
        f"raw JSON {raw_bytes / len(payloads):.0f} B/item"
    )
    print(
        f"Parquet, Lambda batches of {args.batch}: {per_event_batch:.1f} B/event "
        f"({files} objects, {batch_total / files / 1024:.1f} KiB each)"
    )
    print(f"Parquet, hourly objects:          {per_event_hourly:.1f} B/event")
    print(
        f"one day of 1M events: {day_batch / 1024**2:.1f} MiB as Lambda batches, "
        f"{day_hourly / 1024**2:.1f} MiB hourly"
    )
    widest = sorted(columns.items(), key=lambda kv: -kv[1])[:5]
    print(
        "largest columns (hourly): "
        + ", ".join(f"{name} {size / hourly_total:.0%}" for name, size in widest)
    )
    batches_per_day = 86_400 / BATCH_WINDOW_S
    objects_per_day = batches_per_day * files / -(-len(payloads) // args.batch)
    print(
        f"objects per day at 1M events: ~{objects_per_day:,.0f} (one Kinesis batch per "
        f"{BATCH_WINDOW_S} s, {files / -(-len(payloads) // args.batch):.2f} partitions each)"
    )
    print()
    print(
        f"{'dbt run':34} {'reads':>9} {'scanned':>10} {'USD/run':>9} {'USD/month':>10}"
        f" {'S3 GETs/run':>12} {'USD/run':>8}"
    )
    rows = [
        ("daily run, pruned (3 days read)", 3),
        ("7-day window, pruned (9 days)", 9),
        ("unpruned, 30 days of history", 30),
        ("unpruned, 365 days of history", 365),
    ]
    for label, days in rows:
        scanned = day_batch * days
        gets = objects_per_day * days * GETS_PER_OBJECT
        print(
            f"{label:34} {days:>5} day {scanned / 1024**3:>8.2f} GiB "
            f"{cost(scanned):>9.4f} {30 * cost(scanned):>10.2f} {gets:>12,.0f} "
            f"{gets * GET_PRICE:>8.4f}"
        )
    after = compacted(payloads, args.batch)
    objects_after = 24 * after["per_hour_after"]  # one hour of 1M/day is ~2.5 MB: one part
    # The sample's hours hold fewer events than an hour at 1M/day; bytes per event of a
    # compacted hour at that rate are those of the hourly objects above.
    day_after = day_hourly
    print()
    print(
        f"compaction (measured on the sample: {after['hours']} hour partitions of "
        f"~{after['events_per_hour']:,.0f} events, {after['per_hour_before']:.0f} objects each "
        f"-> {after['per_hour_after']:.0f}; {after['bytes_before']:.1f} -> "
        f"{after['bytes_after']:.1f} B/event; at 1M/day an hour is one object of "
        f"{per_event_hourly:.1f} B/event):"
    )
    print(
        f"{'1M events/day':34} {'objects/day':>12} {'daily run opens':>16} {'bytes opened':>13}"
        f" {'S3 GETs/run':>12} {'USD/month':>10}"
    )
    for label, per_day, day_bytes in (
        ("Lambda batches (as written)", objects_per_day, day_batch),
        ("after weblogs compact", objects_after, day_after),
    ):
        gets = 3 * per_day * GETS_PER_OBJECT
        print(
            f"{label:34} {per_day:>12,.0f} {3 * per_day:>16,.0f} "
            f"{3 * day_bytes / 1024**2:>9.0f} MiB {gets:>12,.0f} "
            f"{30 * (gets * GET_PRICE + cost(3 * day_bytes)):>10.2f}"
        )
    print(
        f"objects a daily run opens: {objects_per_day / objects_after:.0f}x fewer after "
        f"compaction (target >= 50x); bytes {day_after / day_batch:.2f} of before"
    )
    ratio = (3 * day_batch) / (365 * day_batch)
    print()
    print(f"ratio pruned/unpruned after a year: {ratio:.4f} (= 3/365; bytes per event cancel out)")
    print(
        f"small-file overhead: Lambda-batch objects are {per_event_batch / per_event_hourly:.2f}x "
        "the bytes of hourly objects"
    )
    results.record(
        "bench/athena_cost.py",
        [
            ("sample API items (valid share)", f"{len(payloads):,} ({valid_share:.1%})"),
            (f"Parquet B/event, Lambda batches of {args.batch}", round(per_event_batch, 1)),
            ("Parquet B/event, hourly objects", round(per_event_hourly, 1)),
            ("one day of 1M events, MiB as Lambda batches", round(day_batch / 1024**2, 1)),
            ("objects per day at 1M events", round(objects_per_day)),
            ("daily run, pruned: GiB scanned", round(3 * day_batch / 1024**3, 2)),
            (
                "objects a daily run opens, fewer after compaction",
                f"{objects_per_day / objects_after:.0f}x",
            ),
            ("ratio pruned/unpruned after a year", round(ratio, 4)),
        ],
    )
    visitor_costs(payloads, day_batch)
    return 0


def visitor_facts(payloads: list[bytes]) -> tuple[float, float, float]:
    """(fact rows per event, bytes per `int_visitor_days` row, bytes per `int_client_logins`
    row): the per-day facts of docs/contract.md section 5, built from the sample's sessions
    (grouped by session_id, as the models' facts are) and written as Snappy Parquet."""
    import pyarrow as pa

    result = transform_records(payloads, stage="bench", now=NOW)
    rows = pa.concat_tables(result.partitions.values()).to_pylist()
    sessions: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["event_timestamp"], r["event_id"])):
        sessions.setdefault(row["session_id"], []).append(row)
    days: dict[tuple, dict] = {}
    logins: dict[tuple, dict] = {}
    for sid, events in sessions.items():
        day = events[0]["event_timestamp"].date()
        known = [e for e in events if not e["is_anonymous_user"]]
        client = next((e["client_id"] for e in events if e["client_id"]), None)
        key = "u:" + known[-1]["user_id"] if known else ("c:" + client if client else "s:" + sid)
        fact = days.setdefault((day, key), {"session_date": day, "visitor_key": key,
                                            "stitch_client_id": client if key[0] == "c" else None,
                                            "sessions": 0, "page_views": 0, "total_events": 0,
                                            "converted_sessions": 0, "purchases": 0,
                                            "engagement_score_hundredths": 0,
                                            "first_session_start": events[0]["event_timestamp"],
                                            "first_session_id": sid, "first_channel": "direct",
                                            "first_landing_page_path": events[0]["page_url"][:60],
                                            "last_session_start": events[0]["event_timestamp"],
                                            "last_session_id": sid, "last_channel": "direct",
                                            "last_session_end": events[-1]["event_timestamp"]})  # fmt: skip
        fact["sessions"] += 1
        fact["total_events"] += len(events)
        if known and client:
            logins[(day, client)] = {"session_date": day, "client_id": client,
                                     "login_session_start": events[0]["event_timestamp"],
                                     "login_session_id": sid, "user_id": known[-1]["user_id"]}  # fmt: skip
    day_bytes = len(parquet_bytes_of(pa.Table.from_pylist(list(days.values()))))
    login_bytes = len(parquet_bytes_of(pa.Table.from_pylist(list(logins.values()))))
    return len(days) / len(rows), day_bytes / len(days), login_bytes / max(1, len(logins))


def parquet_bytes_of(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()


def visitor_costs(payloads: list[bytes], day_events_bytes: float) -> None:
    """What a daily run reads for `users`, `daily_visitors`, `retention_cohorts` and
    `identity_map` as history grows: the window's event partitions (3 days, flat) plus
    every date of the two per-day facts (never the events' history)."""
    rows_per_event, day_row, login_row = visitor_facts(payloads)
    facts_per_day = rows_per_event * EVENTS_PER_DAY * (day_row + login_row * 0.2)
    print()
    print(
        f"visitor facts: {rows_per_event * EVENTS_PER_DAY:,.0f} int_visitor_days rows per day "
        f"of 1M events, {day_row:.0f} B/row ({login_row:.0f} B/row of int_client_logins)"
    )
    print(f"{'daily run, history held':34} {'events read':>12} {'facts read':>11} {'USD/run':>9}")
    first = None
    for history in (30, 90, 180, 365):
        events = 3 * day_events_bytes
        facts = history * facts_per_day
        total = events + facts
        first = first or total
        print(
            f"{history:>5} days{'':26} {events / 1024**2:>8.0f} MiB {facts / 1024**2:>7.0f} MiB "
            f"{cost(total):>9.4f}  ({total / first:.2f}x the 30-day run)"
        )


if __name__ == "__main__":
    sys.exit(main())
