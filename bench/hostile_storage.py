"""Benchmark: storage under hostile sizes (issue 26).

    .venv/bin/python bench/hostile_storage.py [--input-mb 300] [--hours 24] [--objects 40]

(`bench/hostile.py` runs it after the consumer's figures.)

1. `weblogs transform`'s peak RSS on an input of ~1 MiB events (default 300 MB),
   in a cold process measured by a small parent (wait4's ru_maxrss), next to the
   same command on a one-line input in the same run: the baseline is the
   interpreter with its imports. Target: under 256 MiB.
2. Compaction's throughput (input rows/s) with the per-hour lease (create,
   renew after each part, ownership check before deleting, release) and without
   it (a lease that always holds and writes nothing), on copies of the same local
   lake of `--hours` hours of `--objects` small objects each, alternating, best of
   `--repeat`. The ratio leased/unleased is the lease's cost.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weblogs.adapters.compaction import compact  # noqa: E402
from weblogs.adapters.lake import LocalLake, write_result  # noqa: E402
from weblogs.adapters.lease import HourLease  # noqa: E402
from weblogs.core.transform import transform_records  # noqa: E402

WEBLOGS = str(Path(sys.executable).parent / "weblogs")
DAY = datetime(2026, 10, 6, tzinfo=UTC)
NOW = DAY + timedelta(days=3)
MEASURE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def big_events(path: Path, megabytes: int) -> int:
    """~1 MiB events (a big extra field), `megabytes` of them; returns the file's bytes."""
    base = int(DAY.timestamp() * 1000)
    pad = "x" * 1_000_000
    with path.open("w") as out:
        for i in range(megabytes):
            out.write(
                f'{{"event_id":"b-{i}","session_id":"s-{i}","event_type":"page_view",'
                f'"page_url":"/p","timestamp":{base + i * 1000},"blob":"{pad}"}}\n'
            )
    return path.stat().st_size


def peak_rss(source: Path, lake: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, WEBLOGS, "transform", "--input", str(source),
         "--lake", str(lake)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    status, kib = map(int, done.stdout.split())
    if status:
        sys.exit(f"weblogs transform failed: {done.stderr}")
    return kib / 1024


def transform_rss(work: Path, megabytes: int) -> None:
    source = work / "big.jsonl"
    size = big_events(source, megabytes)
    tiny = work / "tiny.jsonl"
    big_events(tiny, 1)
    baseline = peak_rss(tiny, work / "lake-tiny")
    peak = peak_rss(source, work / "lake-big")
    print(
        f"transform: {size / 1e6:.0f} MB input of ~1 MiB events: peak RSS {peak:.0f} MiB "
        f"(target < 256); one event: {baseline:.0f} MiB; ratio {peak / baseline:.2f}"
    )


class NoLease(HourLease):
    """The baseline: every hour is always ours, and nothing is written for it."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def renew(self) -> bool:
        return True

    def release(self) -> None:
        return None


def small_object_lake(root: Path, hours: int, objects: int, rows: int = 200) -> int:
    lake = LocalLake(root)
    base = int(DAY.timestamp() * 1000)
    for n in range(objects):
        lines = [
            f'{{"event_id":"c-{n}-{i}","session_id":"s-{i % 50}","event_type":"click",'
            f'"page_url":"/p","timestamp":{base + (i % hours) * 3_600_000 + n}}}'.encode()
            for i in range(rows * hours)
        ]
        result = transform_records(lines, stage="bench", now=NOW)
        write_result(lake, result, name=f"shardId-{n:04d}", failed_prefix="failed")
    return rows * hours * objects


def compaction_throughput(work: Path, hours: int, objects: int, repeat: int) -> None:
    template = work / "template"
    rows = small_object_lake(template, hours, objects)
    best: dict[str, float] = {}
    for attempt in range(repeat):
        for label, lease in (("leased", HourLease), ("unleased", NoLease)):
            lake = work / f"{label}-{attempt}"
            shutil.copytree(template, lake)
            began = time.perf_counter()
            stats = compact(LocalLake(lake), now=NOW, grace_seconds=0, lease_type=lease)
            took = time.perf_counter() - began
            assert stats.hours_compacted == hours and not stats.problems, stats
            best[label] = min(best.get(label, took), took)
            shutil.rmtree(lake)
    leased, unleased = rows / best["leased"], rows / best["unleased"]
    print(
        f"compaction: {hours} hours x {objects} objects ({rows:,} rows): "
        f"{leased:,.0f} rows/s with the lease, {unleased:,.0f} without; "
        f"ratio leased/unleased {leased / unleased:.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-mb", type=int, default=300)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="weblogs-bench-") as work:
        transform_rss(Path(work), args.input_mb)
        compaction_throughput(Path(work), args.hours, args.objects, args.repeat)


if __name__ == "__main__":
    main()
