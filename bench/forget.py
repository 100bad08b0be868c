"""Benchmark: `weblogs forget` for one user in a large lake, next to the least any
erasure must do (read the id columns of every events object and find the user's rows).

    .venv/bin/python bench/forget.py [--events 500000] [--days 14] [--objects-per-hour 3]
                                     [--raw-every 10] [--repeat 3] [--dir D] [--keep]
    .venv/bin/python bench/forget.py --events 5000000          # the issue's size

1. Writes a lake of --events events (the contract's Parquet schema, Snappy, one
   object per hour and batch: --objects-per-hour) over --days days, a raw/
   archive (JSON lines) of every --raw-every-th batch, failed-store objects and
   the CRM files, with one user to forget: 12 events in 3 sessions on 2 days,
   their client id, and an anonymous session of that client.
2. Baseline, in this process: pyarrow reads the id columns (user_id, client_id,
   session_id) of every events object and counts the user's rows.
3. `weblogs forget --user-id ...` in a child process: its wall time, its peak
   memory (the child's max RSS, from wait4), the objects it rewrote against the
   objects the lake holds. Then a second run (finds nothing).

Steps 2 and 3 alternate --repeat times on a fresh copy of the lake (forget rewrites
it); the best of each, the ratio forget / baseline, the highest peak and the objects
rewritten are appended to bench/RESULTS.md (bench/results.py). The lake goes to
/dev/shm when it exists.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from weblogs.core import layout
from weblogs.core.contract import ARROW_SCHEMA

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results  # bench/results.py, beside this script

USER = "u-bench-forget"
CLIENT = "c-bench-forget"
START = datetime(2026, 9, 1, tzinfo=UTC)
WEBLOGS = str(Path(sys.executable).parent / "weblogs")


def batch_table(rng: random.Random, rows: int, hour: datetime, first: int) -> pa.Table:
    """`rows` events of ~8 events per session, 30% anonymous, a client id per user."""
    ids = range(first, first + rows)
    sessions = [f"s{i // 8}" for i in ids]
    users = [f"u{rng.randrange(max(rows // 4, 1) * 50)}" for _ in ids]
    anonymous = [rng.random() < 0.3 for _ in ids]
    stamp = hour.replace(tzinfo=None)
    columns = {
        "event_id": [f"e{i}" for i in ids],
        "session_id": sessions,
        "user_id": [
            f"anon-{s}" if a else u for s, u, a in zip(sessions, users, anonymous, strict=True)
        ],
        "is_anonymous_user": anonymous,
        "event_type": ["page_view" if rng.random() < 0.6 else "click" for _ in ids],
        "page_url": [f"/p/{i % 97}" for i in ids],
        "event_timestamp": [stamp + timedelta(milliseconds=rng.randrange(3_600_000)) for _ in ids],
        "device_type": ["desktop"] * rows,
        "browser": ["chrome"] * rows,
        "client_id": [None if a else "c" + u[1:] for u, a in zip(users, anonymous, strict=True)],
        "ingested_at": [stamp + timedelta(hours=1)] * rows,
    }
    return pa.Table.from_pydict(
        {f.name: pa.array(columns.get(f.name, [None] * rows), f.type) for f in ARROW_SCHEMA},
        schema=ARROW_SCHEMA,
    )


def target_rows(hour: datetime, session: str, user: str | None, count: int) -> pa.Table:
    stamp = int(hour.timestamp() * 1000)
    columns = {
        "event_id": [f"target-{session}-{i}" for i in range(count)],
        "session_id": [session] * count,
        "user_id": [user or f"anon-{session}"] * count,
        "is_anonymous_user": [user is None] * count,
        "event_type": ["page_view"] * count,
        "page_url": ["/p/target"] * count,
        "event_timestamp": [datetime.fromtimestamp((stamp + i) / 1000, UTC) for i in range(count)],
        "device_type": ["desktop"] * count,
        "browser": ["chrome"] * count,
        "client_id": [CLIENT] * count,
        "ingested_at": [hour] * count,
    }
    return pa.Table.from_pydict(
        {f.name: pa.array(columns.get(f.name, [None] * count), f.type) for f in ARROW_SCHEMA},
        schema=ARROW_SCHEMA,
    )


def raw_lines(table: pa.Table) -> bytes:
    rows = table.select(
        ["session_id", "user_id", "event_type", "page_url", "client_id"]
    ).to_pylist()
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def generate(lake: Path, args: argparse.Namespace) -> dict[str, int]:
    rng = random.Random(7)
    hours = args.days * 24
    per_batch = max(args.events // (hours * args.objects_per_hour), 1)
    targets = {  # (hour index, batch) -> (session, user or None, events)
        (30, 0): ("s-target-1", USER, 4), (31, 1): ("s-target-2", USER, 4),
        (60, 2 % args.objects_per_hour): ("s-target-3", USER, 4),
        (61, 0): ("s-target-anon", None, 3),
    }  # fmt: skip
    counts = {"events": 0, "objects": 0}
    for index in range(hours):
        hour = START + timedelta(hours=index)
        partition = (f"{hour:%Y}", f"{hour:%m}", f"{hour:%d}", f"{hour:%H}")
        for batch in range(args.objects_per_hour):
            table = batch_table(rng, per_batch, hour, counts["events"])
            if (index, batch) in targets:
                table = pa.concat_tables([table, target_rows(hour, *targets[(index, batch)])])
            key = layout.event_key(partition, f"batch-{batch:03d}")
            path = lake / key
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path, compression="snappy")
            counts["events"] += table.num_rows
            counts["objects"] += 1
            if counts["objects"] % args.raw_every == 0 or (index, batch) in targets:
                raw = lake / layout.dated_key(layout.RAW, hour, f"h{index:05d}-b{batch:03d}")
                raw.parent.mkdir(parents=True, exist_ok=True)
                raw.write_bytes(raw_lines(table))
                counts["objects"] += 1
    crm = lake / layout.CRM
    crm.mkdir(parents=True, exist_ok=True)
    users = [f"u{i}" for i in range(20000)] + [USER]
    (crm / "customers.csv").write_text(
        "user_id,customer_id,loyalty_tier,is_loyalty_member,signup_date\n"
        + "".join(f"{u},k{i},none,false,2024-01-01\n" for i, u in enumerate(users))
    )
    counts["objects"] += 1
    return counts


def baseline(lake: Path) -> tuple[float, int]:
    """Read the id columns of every events object and count the user's rows."""
    started = time.perf_counter()
    found = 0
    for path in sorted((lake / layout.EVENTS).rglob("*.parquet")):
        table = pq.read_table(path, columns=["user_id", "client_id", "session_id"])
        found += pc.sum(pc.equal(table.column("user_id"), USER)).as_py() or 0
    return time.perf_counter() - started, found


#: Runs argv[1:] as a child of this small process; prints its max RSS (KiB) and exit code.
#: A child's max RSS starts from its parent's at fork, so the benchmark (holding Arrow
#: tables) does not fork the command itself.
MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(f"max-rss-kib {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}", file=sys.stderr)
"""


def run_forget(lake: Path) -> tuple[float, int, str]:
    """The command under a small parent: wall seconds, peak RSS (KiB), its output."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, WEBLOGS, "forget", "--user-id", USER, "--lake", str(lake)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    found = re.search(r"max-rss-kib ([0-9]+) (-?[0-9]+)", done.stderr)
    if not found or found.group(2) != "0":
        raise SystemExit(f"forget failed:\n{done.stdout}{done.stderr}")
    return seconds, int(found.group(1)), done.stdout


def rewritten(output: str) -> str:
    """`R of H objects rewritten` from the command's summary line."""
    found = re.search(r"([0-9]+) of ([0-9]+) objects rewritten", output)
    return f"{found.group(1)} of {found.group(2)}" if found else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--objects-per-hour", type=int, default=3)
    parser.add_argument("--raw-every", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs, best of N")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    base = args.dir or (Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    work = Path(tempfile.mkdtemp(prefix="weblogs-bench-forget-", dir=base))
    try:
        pristine, lake = work / "pristine", work / "lake"
        counts = generate(pristine, args)
        size = sum(p.stat().st_size for p in pristine.rglob("*") if p.is_file())
        print(f"lake: {counts['events']:,} events, {counts['objects']:,} objects, "
              f"{size / 2**20:,.0f} MiB ({pristine})")  # fmt: skip
        base_times, forget_times, peaks = [], [], []
        for attempt in range(max(args.repeat, 1)):
            # A fresh copy each time (not timed): forget rewrites the lake in place.
            shutil.rmtree(lake, ignore_errors=True)
            shutil.copytree(pristine, lake)
            base_seconds, found = baseline(lake)
            seconds, rss, output = run_forget(lake)
            base_times.append(base_seconds)
            forget_times.append(seconds)
            peaks.append(rss)
            print(f"run {attempt + 1}: baseline {base_seconds:.2f} s ({found} rows of the "
                  f"user), forget {seconds:.2f} s, peak {rss / 1024:,.0f} MiB")  # fmt: skip
        print(output.strip())
        again, _, output_again = run_forget(lake)
        assert "removed 0 records" in output_again, output_again
        print(f"second run: {again:.2f} s, found nothing")
        best_base, best = min(base_times), min(forget_times)
        results.record(
            "bench/forget.py",
            [
                ("events in the lake", counts["events"]),
                ("objects in the lake", counts["objects"]),
                ("lake size, MiB", round(size / 2**20)),
                ("baseline: read the id columns of every events object, s (best)",
                 round(best_base, 2)),
                ("weblogs forget, s (best)", round(best, 2)),
                ("ratio forget / baseline", round(best / best_base, 2)),
                ("peak memory of forget (max RSS), MiB (highest)", round(max(peaks) / 1024)),
                ("objects rewritten of objects held", rewritten(output)),
                ("second run (finds nothing), s", round(again, 2)),
                ("runs (alternating)", len(forget_times)),
            ],
        )  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
