"""The transformation Lambda against moto's server over HTTP: S3, the failed store, SNS, retries."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from awsfixtures import FaultProxy, FaultRule, MotoServer
from eventfactory import mixed_lines

from lambdas import transformation
from weblogs.adapters.lake import S3Lake

BUCKET = "weblogs-test-bucket"
CONTEXT = SimpleNamespace(
    function_name="transformation",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:transformation",
    aws_request_id="req-1",
)


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A fresh bucket, topic and SQS subscriber (to read what SNS published)."""
    moto_server.reset()
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sns = moto_server.client("sns")
    topic = sns.create_topic(Name="weblogs-failures")["TopicArn"]
    sqs = moto_server.client("sqs")
    queue_url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("S3_BUCKET", BUCKET)
    monkeypatch.setenv("SNS_TOPIC_ARN", topic)
    monkeypatch.setenv("REGION", "us-east-1")
    transformation._adapters.cache_clear()
    yield {"s3": s3, "sns": sns, "sqs": sqs, "queue_url": queue_url, "topic": topic}
    transformation._adapters.cache_clear()


def kinesis_event(moto_server: MotoServer, payloads: list[bytes], stream: str = "weblogs") -> dict:
    """Put payloads into a moto Kinesis stream and read them back as Lambda would receive them."""
    kinesis = moto_server.client("kinesis")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    for start in range(0, len(payloads), 500):
        kinesis.put_records(
            StreamName=stream,
            Records=[{"Data": p, "PartitionKey": "k"} for p in payloads[start : start + 500]],
        )
    shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    while len(records) < len(payloads):
        page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
        iterator = page["NextShardIterator"]
        for rec in page["Records"]:
            records.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": rec["PartitionKey"],
                        "sequenceNumber": rec["SequenceNumber"],
                        "data": base64.b64encode(rec["Data"]).decode(),
                        "approximateArrivalTimestamp": rec[
                            "ApproximateArrivalTimestamp"
                        ].timestamp(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard['ShardId']}:{rec['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "eventSourceARN": f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}",
                    "awsRegion": "us-east-1",
                }
            )
    return {"Records": records}


def all_keys(s3: Any) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def s3_rows(s3: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in all_keys(s3):
        if key.startswith("events/"):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            rows.extend(pq.read_table(pa.BufferReader(body)).to_pylist())
    return rows


def sns_messages(aws: dict[str, Any]) -> list[dict[str, Any]]:
    out = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def test_batch_to_s3_failed_store_and_one_sns_summary(
    moto_server: MotoServer, aws: dict[str, Any]
) -> None:
    lines, expected_valid, expected_reasons = mixed_lines()
    lines = [line for line in lines if len(line) < 1024 * 1024]  # Kinesis refuses > 1 MiB
    expected_reasons.pop("record_too_large")
    event = kinesis_event(moto_server, lines)
    records = event["Records"]
    response = transformation.handler(event, CONTEXT)
    assert response == {"batchItemFailures": []}

    shard, first, last = "shardId-000000000000", records[0], records[-1]
    name = f"{shard}-{first['kinesis']['sequenceNumber']}-{last['kinesis']['sequenceNumber']}"
    keys = all_keys(aws["s3"])
    event_keys = [k for k in keys if k.startswith("events/")]
    assert event_keys and all(k.endswith(f"/{name}.parquet") for k in event_keys)
    assert all(k.split("/")[1].startswith("year=") and len(k.split("/")) == 6 for k in event_keys)
    assert len(s3_rows(aws["s3"])) == expected_valid

    failed_keys = [k for k in keys if k.startswith("failed_transformation_records/")]
    assert len(failed_keys) == 1 and failed_keys[0].endswith(f"/{name}.jsonl")
    body = aws["s3"].get_object(Bucket=BUCKET, Key=failed_keys[0])["Body"].read()
    failures = [json.loads(line) for line in body.splitlines()]
    assert Counter(f["reason"] for f in failures) == Counter(expected_reasons)
    assert all(f["stage"] == "transformation" and f["shard_id"] == shard for f in failures)
    by_seq = {r["kinesis"]["sequenceNumber"]: r for r in records}
    for failure in failures:  # the payload as received, traceable to its record
        original = base64.b64decode(by_seq[failure["record_id"]]["kinesis"]["data"])
        if failure["payload_encoding"] == "base64":
            assert base64.b64decode(failure["payload"]) == original
        else:
            assert failure["payload"].encode() == original

    messages = sns_messages(aws)
    assert len(messages) == 1  # one summary per batch, never one per record
    summary = json.loads(messages[0]["Message"])
    assert summary["failed"] == len(failures)
    assert summary["reasons"] == dict(sorted(expected_reasons.items()))
    assert summary["failed_records"] == f"s3://{BUCKET}/{failed_keys[0]}"


def test_retried_batch_overwrites_instead_of_duplicating(
    moto_server: MotoServer, aws: dict[str, Any]
) -> None:
    lines, _, _ = mixed_lines()
    event = kinesis_event(moto_server, [x for x in lines if len(x) < 1024 * 1024][:60])
    transformation.handler(event, CONTEXT)
    keys, rows = all_keys(aws["s3"]), s3_rows(aws["s3"])
    # The arrivals manifest (by arrival date) names every event hour written.
    manifests = [k for k in keys if k.startswith("arrivals/")]
    hours = {"/".join(k.split("/")[1:5]) for k in keys if k.startswith("events/")}
    assert len(manifests) == 1 and manifests[0].endswith(".jsonl")
    body = aws["s3"].get_object(Bucket=BUCKET, Key=manifests[0])["Body"].read()
    named = {
        "year={}/month={}/day={}/hour={}".format(*x["event_date"].split("-"), x["event_hour"])
        for x in map(json.loads, body.splitlines())
    }
    assert named == hours
    transformation.handler(event, CONTEXT)
    assert all_keys(aws["s3"]) == keys
    assert s3_rows(aws["s3"]) == rows  # identical rows, ingested_at included


def test_s3_failure_reports_the_batch_and_leaves_nothing_half_written(
    moto_server: MotoServer, aws: dict[str, Any]
) -> None:
    lines, expected_valid, _ = mixed_lines()
    event = kinesis_event(moto_server, [x for x in lines if len(x) < 1024 * 1024])
    proxy = FaultProxy(moto_server.port).start()
    puts: list[str] = []

    def third_object(method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        """Every PUT of the third events object fails, also boto3's own retries of it."""
        if method == "PUT" and "/events/" in path:
            if path not in puts:
                puts.append(path)
            return path == puts[2] if len(puts) > 2 else False
        return False

    proxy.rules.append(FaultRule(third_object, status=503))
    try:
        lake = S3Lake(moto_server.client("s3", endpoint=proxy.endpoint), BUCKET)
        notifier = transformation.SnsNotifier(moto_server.client("sns"), aws["topic"])
        response = transformation.process_batch(event["Records"], lake, notifier, f"s3://{BUCKET}")
    finally:
        proxy.stop()
    assert proxy.rules[0].hits >= 1
    failed_ids = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed_ids == {r["kinesis"]["sequenceNumber"] for r in event["Records"]}
    assert all_keys(aws["s3"]) == []  # the two partitions already written were rolled back
    assert sns_messages(aws) == []

    # Lambda retries the batch: now everything lands exactly once.
    assert transformation.handler(event, CONTEXT) == {"batchItemFailures": []}
    assert len(s3_rows(aws["s3"])) == expected_valid
    assert len([k for k in all_keys(aws["s3"]) if k.startswith("events/")]) == 4


def test_sns_failure_is_retried_without_duplicates(
    moto_server: MotoServer, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, expected_valid, _ = mixed_lines()
    event = kinesis_event(moto_server, [x for x in lines if len(x) < 1024 * 1024])
    monkeypatch.setenv("SNS_TOPIC_ARN", aws["topic"] + "-missing")  # publish fails over HTTP
    transformation._adapters.cache_clear()
    response = transformation.handler(event, CONTEXT)
    assert len(response["batchItemFailures"]) == len(event["Records"])
    assert all_keys(aws["s3"]) == []

    monkeypatch.setenv("SNS_TOPIC_ARN", aws["topic"])
    transformation._adapters.cache_clear()
    assert transformation.handler(event, CONTEXT) == {"batchItemFailures": []}
    assert len(s3_rows(aws["s3"])) == expected_valid
    assert len(sns_messages(aws)) == 1


def test_handler_writes_to_s3_exactly_what_the_cli_writes_to_disk(
    moto_server: MotoServer, aws: dict[str, Any], tmp_path: Path
) -> None:
    lines, _, _ = mixed_lines()
    lines = [x for x in lines if len(x) < 1024 * 1024]
    event = kinesis_event(moto_server, lines)
    transformation.handler(event, CONTEXT)
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines))
    lake = tmp_path / "lake"
    subprocess.run(
        [sys.executable, "-m", "weblogs", "transform", "--input", str(source), "--lake", str(lake)],
        check=True,
        capture_output=True,
        env=os.environ,
    )

    def partitions(keys: list[str]) -> list[str]:
        return sorted("/".join(k.split("/")[:5]) for k in keys)

    local_keys = [p.relative_to(lake).as_posix() for p in (lake / "events").rglob("*.parquet")]
    s3_keys = [k for k in all_keys(aws["s3"]) if k.startswith("events/")]
    assert partitions(local_keys) == partitions(s3_keys)

    def without_ingested_at(rows: list[dict[str, Any]]) -> list[tuple]:
        return sorted(tuple((k, v) for k, v in r.items() if k != "ingested_at") for r in rows)

    local_rows = [
        r for p in (lake / "events").rglob("*.parquet") for r in pq.read_table(p).to_pylist()
    ]
    assert without_ingested_at(local_rows) == without_ingested_at(s3_rows(aws["s3"]))


def test_empty_batch_is_a_no_op(aws: dict[str, Any]) -> None:
    assert transformation.handler({"Records": []}, CONTEXT) == {"batchItemFailures": []}
    assert all_keys(aws["s3"]) == []
