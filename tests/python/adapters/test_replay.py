"""`weblogs replay` on a local lake and on S3 (moto's server over HTTP)."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from awsfixtures import MotoServer

from weblogs.adapters.lake import LocalLake, S3Lake, write_result
from weblogs.cli import main
from weblogs.core.contract import ALLOWED_EVENT_TYPES, failed_record
from weblogs.core.transform import transform_records

FAILED_AT = datetime(2026, 10, 1, 12, 30, tzinfo=UTC)
OLD_TYPES = tuple(t for t in ALLOWED_EVENT_TYPES if t != "review")  # the "old contract"


def event(i: int, event_type: str = "review") -> bytes:
    return json.dumps(
        {
            "event_id": f"e-{i}",
            "session_id": f"s-{i % 3}",
            "user_id": i,
            "event_type": event_type,
            "page_url": f"/p/{i}",
            "timestamp": 1790000000 + i * 3600,  # 2026-09-21 onwards, one per hour
        }
    ).encode()


def build_failed_store(lake: Any) -> list[str]:
    """A failed store as the old contract left it: 4 reviews, 2 bad JSON, 1 non-UTF-8."""
    payloads = [event(i) for i in range(4)] + [event(9, "page_view")]
    payloads += [b'{"session_id": "x"', b"not json", b"\xff\xfe{}"]
    result = transform_records(
        payloads, stage="transformation", now=FAILED_AT, event_types=OLD_TYPES
    )
    assert (result.written, result.failed) == (1, 7)
    keys = write_result(
        lake, result, name="shardId-0_1_8", failed_prefix="failed_transformation_records"
    )
    # A hand-written line: base64 payload of a valid event, and one unusable line.
    extra = failed_record(event(20), "unknown_event_type", "transformation", FAILED_AT)
    extra["payload"] = base64.b64encode(event(20)).decode()
    extra["payload_encoding"] = "base64"
    lake.put(
        "failed_transformation_records/dt=2026-10-01/manual.jsonl",
        json.dumps(extra).encode() + b"\n\n{broken line\n",
    )
    return keys


def replay_events(lake: Any) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for key in lake.list("events/"):
        if "/replay-" in key:
            table = pq.read_table(io.BytesIO(lake.get(key)))
            found[key] = table.to_pylist()
    return found


def test_replay_local_lake_counts_writes_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = LocalLake(tmp_path / "lake")
    build_failed_store(lake)
    failed_before = {k: lake.get(k) for k in lake.list("failed_transformation_records/")}

    assert main(["replay", "--from", str(lake.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("replay: 9 read, 5 now valid, 4 still failing (2 objects")
    assert out[1] == "replay: still failing by reason: invalid_json=3, unreadable_failed_line=1"
    first = replay_events(lake)
    rows = [row for rows in first.values() for row in rows]
    assert sorted(r["event_id"] for r in rows) == ["e-0", "e-1", "e-2", "e-20", "e-3"]
    assert {r["ingested_at"] for r in rows} == {FAILED_AT.replace(tzinfo=None)}
    assert len(first) == 5  # one hour each

    # Again: same objects, same rows, failed store untouched.
    assert main(["replay", "--from", str(lake.root)]) == 0
    assert capsys.readouterr().out.startswith("replay: 9 read, 5 now valid, 4 still failing")
    assert replay_events(lake) == first
    assert {k: lake.get(k) for k in lake.list("failed_transformation_records/")} == failed_before


def test_replay_into_another_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = LocalLake(tmp_path / "src")
    build_failed_store(source)
    target = tmp_path / "dst"
    assert main(["replay", "--from", str(source.root), "--to", str(target)]) == 0
    assert len(replay_events(LocalLake(target))) == 5
    assert replay_events(source) == {}
    capsys.readouterr()


def test_empty_store_reports_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lake").mkdir()
    assert main(["replay", "--from", str(tmp_path / "lake"), "--prefix", "kinesis_failures"]) == 0
    assert capsys.readouterr().out.startswith(
        "replay: 0 read, 0 now valid, 0 still failing (0 objects under kinesis_failures/)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "/nonexistent/lake"], "lake folder /nonexistent/lake does not exist"),
        (["--from", "{tmp}", "--prefix", "../etc"], "--prefix must be a relative key prefix"),
        (["--from", "{tmp}", "--prefix", "/abs/"], "--prefix must be a relative key prefix"),
        (["--from", "{tmp}", "--prefix", "events/"], "not events/"),
        (["--from", "s3://"], "expected s3://BUCKET"),
        (["--from", ""], "must not be empty"),
    ],
)
def test_bad_arguments_give_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["replay", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("weblogs replay: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_replay_on_s3(moto_server: MotoServer, capsys: pytest.CaptureFixture[str]) -> None:
    s3 = moto_server.client("s3")
    bucket = "weblogs-replay-test"
    s3.create_bucket(Bucket=bucket)
    lake = S3Lake(s3, bucket)
    build_failed_store(lake)
    assert main(["replay", "--from", f"s3://{bucket}"]) == 0
    assert capsys.readouterr().out.startswith("replay: 9 read, 5 now valid, 4 still failing")
    first = replay_events(lake)
    assert len(first) == 5
    assert main(["replay", "--from", f"s3://{bucket}"]) == 0
    capsys.readouterr()
    assert replay_events(lake) == first
    assert sum(1 for _ in lake.list("events/")) == 6  # 5 replayed + the original valid one


def test_missing_bucket_is_a_one_line_error(
    moto_server: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--from", "s3://no-such-bucket-here"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("weblogs replay: error: cannot use s3://no-such-bucket-here")
    assert "NoSuchBucket" in err and err.count("\n") == 1
