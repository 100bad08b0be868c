"""The transformation core and `weblogs transform` on a local lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from eventfactory import NOW, mixed_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from weblogs.core.contract import ARROW_SCHEMA, payload_bytes
from weblogs.core.transform import partition_of, transform_records

WEBLOGS = [sys.executable, "-m", "weblogs"]


def read_events(lake: Path) -> list[dict[str, object]]:
    files = sorted((lake / "events").rglob("*.parquet"))
    rows: list[dict[str, object]] = []
    for path in files:
        assert pq.read_metadata(path).row_group(0).column(0).compression == "SNAPPY"
        table = pq.read_table(path)
        assert table.schema.equals(ARROW_SCHEMA)
        rows.extend(table.to_pylist())
    return rows


def read_failed(lake: Path) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for path in sorted((lake / "failed_transformation_records").rglob("*.jsonl")):
        lines.extend(json.loads(line) for line in path.read_text().splitlines())
    return lines


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WEBLOGS, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@given(st.lists(st.binary(max_size=200) | st.sampled_from(mixed_lines()[0][:40]), max_size=40))
@settings(max_examples=150, deadline=None)
def test_no_record_is_lost_for_arbitrary_bytes(payloads: list[bytes]) -> None:
    result = transform_records(payloads, stage="transformation", now=NOW)
    assert result.records_in == len(payloads)
    assert result.records_in == result.written + result.failed
    assert sorted(payload_bytes(f) for f in result.failures) == sorted(
        p for p in payloads if p not in {bytes(x) for x in _valid_payloads(payloads)}
    )


def _valid_payloads(payloads: list[bytes]) -> list[bytes]:
    from weblogs.core.contract import Valid, validate

    return [p for p in payloads if isinstance(validate(p, now=NOW), Valid)]


def test_rows_land_in_the_hour_of_their_own_timestamp() -> None:
    lines, _, _ = mixed_lines()
    result = transform_records(lines, stage="t", now=NOW)
    for (year, month, day, hour), table in result.partitions.items():
        for ts in table.column("event_timestamp").to_pylist():
            assert (f"{ts:%Y}", f"{ts:%m}", f"{ts:%d}", f"{ts:%H}") == (year, month, day, hour)
    assert partition_of(0) == ("1970", "01", "01", "00")


def test_cli_writes_exactly_the_valid_records_and_every_failure(tmp_path: Path) -> None:
    lines, expected_valid, expected_reasons = mixed_lines()
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n\n")  # a trailing blank line is not a record
    lake = tmp_path / "lake"
    done = run_cli("transform", "--input", str(source), "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    failed_total = sum(expected_reasons.values())
    assert done.stdout.strip().startswith(
        f"transform: {len(lines)} records in, {expected_valid} written, {failed_total} failed"
    )
    rows = read_events(lake)
    assert len(rows) == expected_valid
    failures = read_failed(lake)
    assert Counter(f["reason"] for f in failures) == Counter(expected_reasons)
    assert {f["stage"] for f in failures} == {"transformation"}
    # Every failed payload is kept exactly as received.
    valid_ids = {r["event_id"] for r in rows}
    assert sorted(payload_bytes(f) for f in failures) == sorted(
        line for line in lines if not _is_valid(line)
    )
    assert "e-1" in valid_ids and any(i.startswith("h-") for i in valid_ids)
    extra = [r for r in rows if r["extra_attributes"]]
    assert extra and json.loads(extra[0]["extra_attributes"])["campaign"]["name"] == "autumn"
    # Partition folders are zero-padded and agree with the rows (DuckDB/Athena read them).
    dataset = ds.dataset(lake / "events", format="parquet", partitioning="hive")
    assert dataset.count_rows() == expected_valid

    # Running it again on the same input rewrites the same objects: no duplicate rows.
    files_before = sorted(p.relative_to(lake) for p in lake.rglob("*") if p.is_file())
    again = run_cli("transform", "--input", str(source), "--lake", str(lake))
    assert again.returncode == 0, again.stderr
    files_after = sorted(p.relative_to(lake) for p in lake.rglob("*") if p.is_file())
    assert files_after == files_before
    assert len(read_events(lake)) == expected_valid
    assert len(read_failed(lake)) == failed_total


def _is_valid(line: bytes) -> bool:
    from weblogs.core.contract import Valid, validate

    return isinstance(validate(line, now=datetime.now(UTC)), Valid)


def test_cli_reads_a_folder_and_defaults_to_the_lake_root_env(tmp_path: Path) -> None:
    stream = tmp_path / "stream"
    stream.mkdir()
    lines, _, _ = mixed_lines()
    (stream / "a.jsonl").write_bytes(b"\n".join(lines[:10]))
    (stream / "b.jsonl").write_bytes(b"\n".join(lines[10:20]))
    (stream / "ignored.txt").write_text("not read")
    lake = tmp_path / "lake-from-env"
    done = run_cli("transform", "--input", str(stream), env={"WEBLOGS_LAKE_ROOT": str(lake)})
    assert done.returncode == 0, done.stderr
    assert "20 records in, 20 written, 0 failed" in done.stdout
    assert len(read_events(lake)) == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--input", "/nonexistent/events.jsonl"],
            "input file /nonexistent/events.jsonl does not exist",
        ),
        (["--input", "{tmp}/empty-dir"], "no *.jsonl files in folder"),
        (["--input", "{tmp}/events.jsonl", "--lake", "{tmp}/events.jsonl/lake"], "is not writable"),
        (["--input", "{tmp}/events.jsonl", "--lake", "s3://"], "expected s3://BUCKET"),
        ([], "the following arguments are required: --input"),
    ],
)
def test_cli_unusable_arguments_give_one_clear_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "events.jsonl").write_text('{"a": 1}\n')
    (tmp_path / "empty-dir").mkdir()
    done = run_cli("transform", *[a.format(tmp=tmp_path) for a in args])
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_writes_an_arrivals_manifest_of_the_event_hours_it_touched(tmp_path: Path) -> None:
    """The scheduled model run learns from it which dates received events, late ones included."""
    lines, expected_valid, _ = mixed_lines()
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    lake = tmp_path / "lake"
    began = datetime.now(UTC)
    assert run_cli("transform", "--input", str(source), "--lake", str(lake)).returncode == 0
    manifests = list((lake / "arrivals").rglob("*.jsonl"))
    assert len(manifests) == 1
    folder = manifests[0].parent.relative_to(lake / "arrivals").as_posix()
    assert folder in {f"{d:year=%Y/month=%m/day=%d}" for d in (began, datetime.now(UTC))}
    lines_out = [json.loads(x) for x in manifests[0].read_text().splitlines()]
    hours = Counter()
    for path in (lake / "events").rglob("*.parquet"):
        parts = dict(p.split("=") for p in path.parent.relative_to(lake / "events").parts)
        hours[(f"{parts['year']}-{parts['month']}-{parts['day']}", parts["hour"])] += (
            pq.read_metadata(path).num_rows
        )
    assert {(x["event_date"], x["event_hour"]): x["events"] for x in lines_out} == dict(hours)
    # The earliest ingested_at of each hour: the scheduled run finds the batch's rows by it.
    first: dict[tuple[str, str], datetime] = {}
    for path in (lake / "events").rglob("*.parquet"):
        parts = dict(p.split("=") for p in path.parent.relative_to(lake / "events").parts)
        key = (f"{parts['year']}-{parts['month']}-{parts['day']}", parts["hour"])
        low = min(pq.read_table(path, columns=["ingested_at"]).column(0).to_pylist())
        first[key] = min(first.get(key, low), low)
    assert {
        (x["event_date"], x["event_hour"]): datetime.fromisoformat(
            x["first_ingested_at"].replace("Z", "+00:00")
        )
        for x in lines_out
    } == {k: v if v.tzinfo else v.replace(tzinfo=UTC) for k, v in first.items()}
    assert sum(hours.values()) == expected_valid
    arrived = {datetime.fromisoformat(x["arrived_at"].replace("Z", "+00:00")) for x in lines_out}
    assert len(arrived) == 1 and began <= arrived.pop() <= datetime.now(UTC)
