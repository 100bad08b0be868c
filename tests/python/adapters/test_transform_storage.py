"""`weblogs transform` against a lake that fails: a full disk on a re-run, `events/` or an
hour folder being a file; and its memory on big events. Real faults: a small tmpfs
that fills up, a real file in the way, a child process's peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from dbt_helpers import WEBLOGS
from lakedata import HOUR
from mounts import fill, small_disk

#: Events over 24 hours of one day: one object per hour partition.
DAY_MS = int(HOUR.timestamp() * 1000) - 12 * 3_600_000


def write_events(path: Path, count: int, *, pad: int = 0, start: int = 0) -> Path:
    """Events over one day, later hours holding more of them (objects of growing size)."""
    with path.open("wb") as out:
        for i in range(start, start + count):
            hour = int(24 * ((i - start) / count) ** 0.5)
            item = {
                "event_id": f"t-{i:08d}",
                "session_id": f"s-{i // 5}",
                "event_type": "page_view",
                "page_url": "/p",
                "timestamp": DAY_MS + hour * 3_600_000 + (i * 7919) % 3_600_000,
            }
            if pad:
                item["blob"] = "x" * pad
            out.write(orjson.dumps(item) + b"\n")
    return path


def transform(source: Path, lake: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WEBLOGS, "transform", "--input", str(source), "--lake", str(lake)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def event_ids(lake: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in (lake / "events").rglob("*.parquet"):
        found.update(pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist())
    return found


def manifest_hours(lake: Path) -> set[str]:
    hours = set()
    for path in (lake / "arrivals").rglob("*"):
        if path.is_file():
            for line in path.read_text().splitlines():
                item = json.loads(line)
                hours.add(f"{item['event_date']}/{item['event_hour']}")
    return hours


def lake_hours(lake: Path) -> set[str]:
    found = set()
    for path in (lake / "events").rglob("*.parquet"):
        parts = dict(p.split("=") for p in path.parent.relative_to(lake / "events").parts)
        found.add(f"{parts['year']}-{parts['month']}-{parts['day']}/{parts['hour']}")
    return found


def test_a_rerun_failing_on_a_full_disk_keeps_the_first_runs_rows(tmp_path: Path) -> None:
    source = write_events(tmp_path / "two.jsonl", 4000)
    with small_disk(tmp_path / "disk", 8 * 1024**2) as disk:
        lake = disk / "lake"
        first = transform(source, lake)
        assert first.returncode == 0, first.stderr
        before = event_ids(lake)
        assert len(before) == 4000 and set(before.values()) == {1}
        sizes = sorted(p.stat().st_size for p in (lake / "events").rglob("*.parquet"))
        fill(disk, leave_bytes=sizes[len(sizes) // 2])  # room to replace the small ones only
        again = transform(source, lake)
        assert again.returncode == 2, again.stdout
        assert event_ids(lake) == before  # first: no row of the first run lost
        assert manifest_hours(lake) <= lake_hours(lake)
        (line,) = again.stderr.strip().splitlines()
        assert "No space left on device" in line and str(lake) in line, line
        assert "cannot read" not in line and "two.jsonl" not in line, line
        assert not list(lake.rglob(".tmp-*"))


def test_a_failing_first_run_takes_back_only_what_it_created(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 4 * 1024**2) as disk:
        lake = disk / "lake"
        small = write_events(tmp_path / "one.jsonl", 200)
        assert transform(small, lake).returncode == 0
        kept = event_ids(lake)
        fill(disk, leave_bytes=64 * 1024)
        big = write_events(tmp_path / "big.jsonl", 20_000, start=10_000)
        done = transform(big, lake)
        assert done.returncode == 2 and "No space left on device" in done.stderr
        assert event_ids(lake) == kept  # the failed batch left nothing, the old rows stay
        assert manifest_hours(lake) <= lake_hours(lake)


def test_events_being_a_file_is_named_as_the_cause(tmp_path: Path) -> None:
    source = write_events(tmp_path / "in.jsonl", 10)
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "events").write_text("not a folder")
    done = transform(source, lake)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"({lake / 'events'} is a file, not a folder)" in line, line
    assert "cannot create" in line and "cannot read" not in line, line


def test_an_hour_folder_being_a_file_is_named_as_the_cause(tmp_path: Path) -> None:
    source = write_events(tmp_path / "in.jsonl", 1)
    lake = tmp_path / "lake"
    hour = lake / "events/year=2026/month=10/day=06/hour=00"
    hour.parent.mkdir(parents=True)
    hour.write_text("not a folder")
    done = transform(source, lake)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"({hour} is a file, not a folder)" in line, line


#: Run a command and print its peak RSS in KiB. A fresh, small interpreter forks it: a
#: child forked from the big pytest process would inherit that process's high-water mark.
_MEASURE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def peak_rss_mib(args: list[str]) -> float:
    """Run a command (it must succeed); its peak resident memory in MiB."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, check=True
    )
    status, kib = map(int, done.stdout.split())
    assert status == 0, done.stderr
    return kib / 1024


def test_big_events_and_a_huge_line_are_streamed_in_bounded_memory(tmp_path: Path) -> None:
    source = write_events(tmp_path / "big.jsonl", 96, pad=1_000_000)  # ~96 MB of ~1 MB events
    with source.open("ab") as out:  # one 40 MB line: never an event, never held whole
        out.write(b'{"x": "' + b"y" * 40_000_000 + b'"}\n')
    lake = tmp_path / "lake"
    rss = peak_rss_mib([WEBLOGS, "transform", "--input", str(source), "--lake", str(lake)])
    assert rss < 256, f"peak RSS {rss:.0f} MiB"
    assert len(event_ids(lake)) == 96
    (failed,) = (lake / "failed_transformation_records").iterdir()
    (record,) = [json.loads(line) for line in failed.read_text().splitlines()]
    assert record["reason"] == "record_too_large" and record["payload_bytes"] == 40_000_009
    assert record["payload_truncated"] is True and len(record["payload"]) == 2 * 1_048_576
