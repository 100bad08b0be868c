"""The consumer against AWS APIs over real HTTP: moto's server on loopback, no patching.

Partial PutRecords failures come from a loopback proxy in front of moto that drops
chosen records from the request and marks them failed in the response, exactly as
Kinesis does when a shard is throttled.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from awsfixtures import REGION, MotoServer
from loopback import LoopbackProxy, Reply, Request

from ingestion.config import ConsumerConfig
from ingestion.consumer import Consumer
from weblogs.simulator import SimulatorServer, TrafficGenerator

REPO = Path(__file__).resolve().parents[3]
START = datetime(2026, 2, 9, 7, 30, tzinfo=UTC)


@dataclass
class Aws:
    moto: MotoServer
    stream: str
    bucket: str
    topic_arn: str
    queue_url: str

    def kinesis_data(self) -> list[bytes]:
        """Everything in the stream, all shards, read back with get_records."""
        kinesis = self.moto.client("kinesis")
        out: list[bytes] = []
        for shard in kinesis.list_shards(StreamName=self.stream)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=self.stream,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
                out.extend(r["Data"] for r in page["Records"])
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
        return out

    def objects(self, prefix: str) -> dict[str, list[bytes]]:
        s3 = self.moto.client("s3")
        found: dict[str, list[bytes]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                found[item["Key"]] = body.splitlines()
        return found

    def lines(self, prefix: str) -> list[bytes]:
        return [line for _, lines in sorted(self.objects(prefix).items()) for line in lines]

    def notifications(self) -> list[dict[str, Any]]:
        sqs = self.moto.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return messages
            for message in got["Messages"]:
                messages.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def config(self, api_url: str, **overrides: Any) -> ConsumerConfig:
        values: dict[str, Any] = {
            "api_url": api_url,
            "backend": "aws",
            "kinesis_stream_name": self.stream,
            "s3_bucket": self.bucket,
            "sns_topic_arn": self.topic_arn,
            "region": REGION,
            "poll_interval": 0.02,
            "metrics": False,
            "progress_seconds": 3600,
            "api_backoff": 0.05,
        }
        values.update(overrides)
        return ConsumerConfig(**values)

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.moto.env,
            "KINESIS_STREAM_NAME": self.stream,
            "S3_BUCKET": self.bucket,
            "FAILED_RECORDS_SNS_ARN": self.topic_arn,
            "REGION": REGION,
        }


@pytest.fixture
def aws(moto_server: MotoServer) -> Aws:
    """A fresh stream (2 shards), bucket and SNS topic with an SQS queue to count notices."""
    name = uuid.uuid4().hex[:10]
    kinesis = moto_server.client("kinesis")
    kinesis.create_stream(StreamName=f"weblogs_stream_{name}", ShardCount=2)
    moto_server.client("s3").create_bucket(Bucket=f"weblogs-{name}")
    sns = moto_server.client("sns")
    topic = sns.create_topic(Name=f"failed-{name}")["TopicArn"]
    sqs = moto_server.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"notices-{name}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return Aws(moto_server, f"weblogs_stream_{name}", f"weblogs-{name}", topic, queue_url)


def run_consumer(consumer: Consumer, until: Any, timeout: float = 60.0) -> int:
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", consumer.run()))
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not until() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        consumer.request_stop("test")
        thread.join(timeout=60)
    assert until(), "the consumer did not get there in time"
    return result["code"]


def test_end_to_end_every_event_is_in_kinesis_or_the_failed_store(aws: Aws) -> None:
    gen = TrafficGenerator(21, start=START)
    with SimulatorServer(gen, max_events=1500) as server:
        server.inject("503", "garbage")
        consumer = Consumer(aws.config(server.url, s3_batch_size=250))
        code = run_consumer(consumer, lambda: consumer.stats.polled == 1500)
    assert code == 0
    stats = consumer.stats
    in_stream = aws.kinesis_data()
    failed = [json.loads(line) for line in aws.lines("failed_records/")]
    item_failures = [f for f in failed if f["stage"] == "api_consumer"]
    assert len(in_stream) == stats.forwarded
    assert len(in_stream) + len(item_failures) == stats.polled == 1500  # the accounting
    assert stats.kinesis_failed == 0 and not aws.objects("kinesis_failures/")
    assert 20 < len(item_failures) < 60
    assert [f["reason"] for f in failed if f["stage"] == "api_response"] == ["invalid_json"]
    # Raw archive = the stream's content; extra_columns = the events with extra fields.
    assert Counter(aws.lines("raw/")) == Counter(in_stream)
    extra = aws.lines("extra_columns/")
    assert len(extra) == stats.extra_columns > 0
    assert all(
        set(json.loads(e))
        - {
            "event_id",
            "session_id",
            "user_id",
            "event_type",
            "page_url",
            "referrer",
            "timestamp",
            "device_type",
            "browser",
            "os",
            "country",
        }
        for e in extra
    )
    assert max(len(v) for v in aws.objects("raw/").values()) == 250
    # One notification per batch of failures, naming the object and the reasons.
    notices = aws.notifications()
    failed_objects = aws.objects("failed_records/")
    assert len(notices) == len(failed_objects) == stats.notifications
    assert {n["key"] for n in notices} == set(failed_objects)
    assert sum(n["records"] for n in notices) == len(failed)


_KINESIS_JSON = {"Content-Type": "application/x-amz-json-1.1"}


class KinesisFaultProxy(LoopbackProxy):
    """Between boto3 and moto: fails chosen PutRecords records (never forwarding them)."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.whole_call_failures = 0
        self.attempts: Counter[bytes] = Counter()
        self.forwarded: list[bytes] = []
        self.put_calls = 0

    @staticmethod
    def planned_failures(data: bytes) -> int:
        """How often a record fails before it goes through (-1: always)."""
        first = hashlib.sha256(data).digest()[0]
        return -1 if first < 8 else 2 if first < 40 else 1 if first < 100 else 0

    def handle(self, request: Request) -> Reply:
        if request.operation != "PutRecords":
            return self.forward(request)
        self.put_calls += 1
        if self.whole_call_failures > 0:
            self.whole_call_failures -= 1
            body = b'{"__type": "InternalFailure", "message": "injected"}'
            return Reply(500, body, dict(_KINESIS_JSON))
        return self._put_records(request)

    def _put_records(self, request: Request) -> Reply:
        payload = json.loads(request.body)
        keep, outcome = [], []
        for record in payload["Records"]:
            data = base64.b64decode(record["Data"])
            self.attempts[data] += 1
            plan = self.planned_failures(data)
            if plan < 0 or self.attempts[data] <= plan:
                code = "InternalFailure" if plan < 0 else "ProvisionedThroughputExceededException"
                outcome.append({"ErrorCode": code, "ErrorMessage": "injected"})
            else:
                keep.append(record)
                outcome.append(None)
        results: list[dict[str, Any]] = []
        if keep:
            body = json.dumps({**payload, "Records": keep}).encode()
            reply = self.forward(Request("POST", "/", request.headers, body))
            assert reply.status == 200, reply.body
            results = json.loads(reply.body)["Records"]
            self.forwarded.extend(base64.b64decode(r["Data"]) for r in keep)
        merged = [item if item is not None else results.pop(0) for item in outcome]
        response = {"FailedRecordCount": sum("ErrorCode" in r for r in merged), "Records": merged}
        return Reply(200, json.dumps(response).encode(), dict(_KINESIS_JSON))


@pytest.fixture
def kinesis_proxy(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    proxy = KinesisFaultProxy(moto_server.port).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", f"http://127.0.0.1:{proxy.port}")
    yield proxy
    proxy.stop()


def test_partial_put_records_failures_are_retried_then_kept(
    aws: Aws, kinesis_proxy: KinesisFaultProxy
) -> None:
    kinesis_proxy.whole_call_failures = 3  # botocore's 3 attempts fail: the whole chunk retries
    gen = TrafficGenerator(5, start=START, malformed_rate=0, duplicate_rate=0)
    with SimulatorServer(gen, max_events=800) as server:
        consumer = Consumer(aws.config(server.url, kinesis_max_attempts=4), kinesis_backoff=0.01)
        code = run_consumer(consumer, lambda: consumer.stats.polled == 800)
    assert code == 0
    stats = consumer.stats
    in_stream = aws.kinesis_data()
    assert Counter(in_stream) == Counter(kinesis_proxy.forwarded)  # no record twice
    kept = [json.loads(line) for line in aws.lines("kinesis_failures/")]
    assert {k["error_code"] for k in kept} == {"InternalFailure"}
    assert all(k["stage"] == "kinesis_put" and k["attempts"] == 4 for k in kept)
    expected_lost = [d for d in kinesis_proxy.attempts if kinesis_proxy.planned_failures(d) < 0]
    assert sorted(k["payload"].encode() for k in kept) == sorted(expected_lost)
    assert len(in_stream) == stats.forwarded and len(kept) == stats.kinesis_failed > 0
    assert stats.forwarded + stats.kinesis_failed + stats.failed == stats.polled == 800
    # Every retry was a record the response marked failed (or the whole failed call).
    retried_by_plan = sum(
        min(n, 3) if (n := kinesis_proxy.planned_failures(d)) >= 0 else 3
        for d in kinesis_proxy.attempts
    )
    assert stats.retried >= retried_by_plan
    assert max(kinesis_proxy.attempts.values()) == 4
    notices = aws.notifications()
    assert any(n["key"].startswith("kinesis_failures/") for n in notices)


def test_sigterm_with_full_buffers_flushes_everything_and_exits_0(aws: Aws) -> None:
    gen = TrafficGenerator(13, start=START)
    with SimulatorServer(gen, rate=600) as server:
        env = {
            **os.environ,
            **aws.env,
            "API_URL": server.url,
            "POLL_INTERVAL": "0.05",
            "S3_BATCH_SIZE": "100000",
            "S3_BATCH_SECONDS": "3600",
            "PROGRESS_SECONDS": "0.2",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr: list[str] = []
        stdout: list[str] = []
        readers = [
            threading.Thread(target=lambda: stderr.extend(iter(proc.stderr.readline, ""))),
            threading.Thread(target=lambda: stdout.extend(iter(proc.stdout.readline, ""))),
        ]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            polled = [
                int(line.split("polled ")[1].split()[0]) for line in stderr if "polled " in line
            ]
            if polled and polled[-1] >= 600:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "".join(stderr)
        assert not aws.objects("raw/")  # buffers are full: nothing archived yet
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        for reader in readers:
            reader.join(timeout=10)
        served = server.served
    assert proc.returncode == 0, "".join(stderr)
    assert "Traceback" not in "".join(stderr)
    summary = json.loads(
        next(line for line in stderr if "summary {" in line).split("summary ", 1)[1]
    )
    assert any("stopping (SIGTERM)" in line for line in stderr)
    # Everything served was polled, and everything polled is in Kinesis or the failed store.
    assert summary["polled"] == served >= 600
    in_stream = aws.kinesis_data()
    item_failures = [
        f for f in map(json.loads, aws.lines("failed_records/")) if f["stage"] == "api_consumer"
    ]
    assert len(in_stream) + len(item_failures) == served
    assert Counter(aws.lines("raw/")) == Counter(in_stream)  # the full buffer was flushed
    assert len(aws.objects("raw/")) == 1
    assert len(aws.lines("extra_columns/")) == summary["extra_columns"] > 0
    # CloudWatch EMF metrics on stdout.
    emf = [json.loads(line) for line in stdout if line.startswith("{")]
    assert emf and all("_aws" in m for m in emf)
    assert sum(sum(m.get("EventsPolled", [0])) for m in emf) == served
    assert any("PutRecordsLatency" in m for m in emf)


def test_start_up_checks_the_stream_and_bucket(aws: Aws) -> None:
    env = {**os.environ, **aws.env, "API_URL": "http://127.0.0.1:9/events"}
    env["KINESIS_STREAM_NAME"] = "no_such_stream"
    proc = subprocess.run(
        [sys.executable, "-m", "ingestion"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "ResourceNotFoundException" in proc.stderr and "Traceback" not in proc.stderr
