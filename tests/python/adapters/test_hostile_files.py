"""`weblogs transform` and `weblogs replay` with a poison record, and re-runs on later days."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from eventfactory import mixed_lines, valid_event

from weblogs.cli.transform import transform_input
from weblogs.core.contract import failed_record

REPO = Path(__file__).resolve().parents[3]
POISON = "9" * 4400
DAY1 = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
DAY2 = datetime(2026, 10, 9, 3, 0, tzinfo=UTC)


def event_ids(lake: Path) -> list[str]:
    return sorted(
        row["event_id"]
        for path in (lake / "events").rglob("*.parquet")
        for row in pq.read_table(path).to_pylist()
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def weblogs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weblogs", *args], capture_output=True, text=True, cwd=REPO
    )


def test_transform_a_file_with_a_poison_timestamp(tmp_path: Path) -> None:
    lines = [orjson.dumps(valid_event(i)) for i in range(6)]
    lines.insert(3, orjson.dumps(valid_event(99, timestamp=POISON)))
    lines.insert(1, b'{"session_id": "s", "timestamp": "\xd9\xa1\xd9\xa7\xd9\xa9\xd9\xa1"}')
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    proc = weblogs("transform", "--input", str(source), "--lake", str(tmp_path / "lake"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert event_ids(tmp_path / "lake") == [f"e-{i}" for i in range(6)]
    failed = [
        json.loads(line)
        for path in (tmp_path / "lake" / "failed_transformation_records").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted(f["reason"] for f in failed) == ["invalid_timestamp", "missing_field:event_type"]


def test_replay_a_failed_store_with_a_poison_timestamp(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    store = lake / "failed_transformation_records" / "old.jsonl"
    store.parent.mkdir(parents=True)
    payloads = [orjson.dumps(valid_event(i)) for i in range(4)]
    payloads.insert(2, orjson.dumps(valid_event(99, timestamp=POISON)))
    store.write_bytes(
        b"".join(
            orjson.dumps(failed_record(p, "unknown_event_type", "transformation", DAY1)) + b"\n"
            for p in payloads
        )
    )
    proc = weblogs("replay", "--from", str(lake))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "5 read, 4 now valid, 1 still failing" in proc.stdout
    assert "invalid_timestamp=1" in proc.stdout
    assert event_ids(lake) == [f"e-{i}" for i in range(4)]


def test_a_transform_rerun_on_another_day_leaves_the_failed_store_unchanged(
    tmp_path: Path,
) -> None:
    lines, _, _ = mixed_lines()
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    lake = tmp_path / "lake"
    transform_input(source, lake, now=DAY1)
    first = snapshot(lake / "failed_transformation_records")
    assert first
    transform_input(source, lake, now=DAY2)
    assert snapshot(lake / "failed_transformation_records") == first


def test_failed_object_names_do_not_name_the_day_of_the_run(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"not": "an event"}\n')
    transform_input(source, tmp_path / "lake", now=DAY1)
    [key] = snapshot(tmp_path / "lake" / "failed_transformation_records")
    assert "2026-10-05" not in key
