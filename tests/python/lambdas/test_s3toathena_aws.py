"""The registration Lambda against moto's server over HTTP.

Moto records every Athena query, so the tests read back the exact statements sent.
Failures are injected by the loopback HTTP proxy (loopback.py) in front of moto that answers the
first N calls of an operation with an AWS error, or rewrites a query's status to
FAILED: the Lambda's boto3 clients see real HTTP responses, nothing is patched.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from awsfixtures import MotoServer
from botocore.config import Config
from loopback import LoopbackProxy, Reply, Request

from lambdas import s3toathena
from lambdas.s3toathena import RegisteredCache, RegistrationError, Settings, process_event

REGION = "us-east-1"
NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)


@dataclass
class Fault:
    """Answer the next `times` calls of `operation` with `status`/`body` (or rewrite them)."""

    operation: str
    times: int
    status: int = 400
    body: dict[str, Any] = field(default_factory=dict)
    rewrite_status: dict[str, Any] | None = None  # for GetQueryExecution responses


class FaultProxy(LoopbackProxy):
    """The loopback proxy in front of moto, injecting the configured faults by operation."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.faults: list[Fault] = []
        self.calls: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.endpoint

    def take_fault(self, operation: str) -> Fault | None:
        with self.lock:
            self.calls.append(operation)
            for fault in self.faults:
                if fault.operation == operation and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def handle(self, request: Request) -> Reply:
        fault = self.take_fault(request.operation)
        if fault is not None and fault.rewrite_status is None:
            return _json_reply(
                fault.status, json.dumps(fault.body).encode(), fault.body.get("__type")
            )
        reply = self.forward(request)
        if fault is not None and fault.rewrite_status is not None:
            payload = json.loads(reply.body)
            payload["QueryExecution"]["Status"].update(fault.rewrite_status)
            reply.body = json.dumps(payload).encode()
        return reply


def _json_reply(status: int, data: bytes, error_type: str | None) -> Reply:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return Reply(status, data, headers)


@pytest.fixture(scope="module")
def moto_endpoint(moto_server: MotoServer) -> tuple[str, int]:
    """The session's moto server (conftest.py); it also sets the AWS_* test env."""
    return ("127.0.0.1", moto_server.port)


@pytest.fixture
def proxy(moto_endpoint: tuple[str, int]) -> Iterator[FaultProxy]:
    server = FaultProxy(moto_endpoint[1]).start()
    try:
        yield server
    finally:
        server.stop()


def direct_url(endpoint: tuple[str, int]) -> str:
    return f"http://{endpoint[0]}:{endpoint[1]}"


def client(service: str, url: str, attempts: int = 1) -> Any:
    """A client without botocore retries, so every injected fault reaches our code."""
    cfg = Config(region_name=REGION, retries={"mode": "standard", "total_max_attempts": attempts})
    return boto3.client(service, endpoint_url=url, config=cfg)


@pytest.fixture
def env(moto_endpoint: tuple[str, int]) -> dict[str, Any]:
    """A fresh bucket, workgroup, Glue database and table per test (moto state is shared)."""
    url = direct_url(moto_endpoint)
    suffix = uuid.uuid4().hex[:8]
    bucket, workgroup, database = f"weblogs-{suffix}", f"wg_{suffix}", f"weblogs_{suffix}"
    client("s3", url).create_bucket(Bucket=bucket)
    client("athena", url).create_work_group(Name=workgroup, Configuration={})
    glue = client("glue", url)
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "events",
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [
                {"Name": k, "Type": "string"} for k in ("year", "month", "day", "hour")
            ],
            "StorageDescriptor": {
                "Columns": [{"Name": "event_id", "Type": "string"}],
                "Location": f"s3://{bucket}/events/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde."
                    "ParquetHiveSerDe"
                },
            },
        },
    )
    variables = {
        "ATHENA_DATABASE": database,
        "ATHENA_TABLE": "events",
        "S3_BUCKET": bucket,
        "ATHENA_OUTPUT": f"s3://{bucket}/athena_output/",
        "ATHENA_WORKGROUP": workgroup,
        "REGION": REGION,
    }
    return {"url": url, "vars": variables, "settings": Settings.from_env(variables)}


def s3_event(bucket: str, *keys: str, name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventName": name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "events",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": 1024, "sequencer": "0A"},
                },
            }
            for key in keys
        ]
    }


def sent_statements(url: str, workgroup: str) -> list[str]:
    athena = client("athena", url)
    ids = athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


def key(y: str, m: str, d: str, h: str, name: str = "shardId-000000000000_1_2") -> str:
    """A key as S3 puts it in a notification: URL-encoded ('=' becomes %3D)."""
    return f"events/year%3D{y}/month%3D{m}/day%3D{d}/hour%3D{h}/{name}.parquet"


def expected_clause(bucket: str, y: str, m: str, d: str, h: str) -> str:
    return (
        f"PARTITION (year = '{y}', month = '{m}', day = '{d}', hour = '{h}') "
        f"LOCATION 's3://{bucket}/events/year={y}/month={m}/day={d}/hour={h}/'"
    )


def test_registers_each_valid_partition_once_in_one_statement(env: dict[str, Any]) -> None:
    s = env["settings"]
    event = s3_event(
        s.bucket,
        key("2026", "10", "01", "07"),
        key("2026", "10", "01", "07", "shardId-000000000001_5_9"),
        key("2026", "09", "30", "23"),
        key("2026", "10", "01", "07"),
    )
    summary = process_event(event, s, athena=client("athena", env["url"]), now=NOW)
    assert summary["partitions"] == ["2026/09/30/23", "2026/10/01/07"]
    assert sent_statements(env["url"], s.workgroup) == [
        f"ALTER TABLE `{s.database}`.`events` ADD IF NOT EXISTS\n"
        + expected_clause(s.bucket, "2026", "09", "30", "23")
        + "\n"
        + expected_clause(s.bucket, "2026", "10", "01", "07")
    ]


def test_many_partitions_are_split_into_bounded_statements(env: dict[str, Any]) -> None:
    s = env["settings"]
    hours = [datetime(2026, 9, 20, tzinfo=UTC) + timedelta(hours=i) for i in range(150)]
    keys = [key(f"{h:%Y}", f"{h:%m}", f"{h:%d}", f"{h:%H}") for h in hours]
    summary = process_event(
        s3_event(s.bucket, *keys), s, athena=client("athena", env["url"]), now=NOW
    )
    assert len(summary["query_ids"]) == 2
    statements = sent_statements(env["url"], s.workgroup)
    assert sorted(st.count("PARTITION (") for st in statements) == [50, 100]
    assert all(len(st.encode()) < 262_144 for st in statements)  # Athena's query size limit


def test_hostile_keys_send_no_statement(env: dict[str, Any]) -> None:
    s = env["settings"]
    hostile = [
        "events/year%3D2026/month%3D10/day%3D01/hour%3D07%27%3B+DROP+TABLE+events%3B--/a.parquet",
        "events/year%3D2026/month%3D02/day%3D30/hour%3D07/a.parquet",
        "events/year%3D2026/month%3D13/day%3D01/hour%3D07/a.parquet",
        "events/year%3D%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96/month%3D10/day%3D01/hour%3D07/a.parquet",
        "events/year%3D2026/month%3D10/day%3D01/hour%3D07/..%2F..%2Fa.parquet",
        "events/year%3D2026%252Fmonth%3D10/day%3D01/hour%3D07/a.parquet",
        "raw/year%3D2026/month%3D10/day%3D01/hour%3D07/a.parquet",
    ]
    summary = process_event(
        s3_event(s.bucket, *hostile), s, athena=client("athena", env["url"]), now=NOW
    )
    wrong_bucket = s3_event("attacker-bucket", key("2026", "10", "01", "07"))
    summary2 = process_event(wrong_bucket, s, athena=client("athena", env["url"]), now=NOW)
    assert summary["skipped"] == len(hostile) and summary["partitions"] == []
    assert summary2["skipped"] == 1
    assert sent_statements(env["url"], s.workgroup) == []


def test_mixed_event_registers_only_the_valid_key(env: dict[str, Any]) -> None:
    s = env["settings"]
    event = s3_event(
        s.bucket,
        key("2026", "10", "01", "07", "x%27%29+LOCATION+%27s3%3A%2F%2Fevil%2F"),
        key("2026", "10", "01", "08"),
    )
    process_event(event, s, athena=client("athena", env["url"]), now=NOW)
    statements = sent_statements(env["url"], s.workgroup)
    assert len(statements) == 1
    assert statements[0].endswith(expected_clause(s.bucket, "2026", "10", "01", "08"))
    assert "evil" not in statements[0]


def test_throttled_start_is_retried_then_succeeds(env: dict[str, Any], proxy: FaultProxy) -> None:
    s = env["settings"]
    proxy.faults.append(
        Fault(
            "StartQueryExecution",
            times=2,
            body={
                "__type": "TooManyRequestsException",
                "Message": "Rate exceeded",
                "Reason": "CONCURRENT_QUERY_LIMIT_EXCEEDED",
            },
        )
    )
    summary = process_event(
        s3_event(s.bucket, key("2026", "10", "01", "07")),
        s,
        athena=client("athena", proxy.url),
        now=NOW,
    )
    assert proxy.calls.count("StartQueryExecution") == 3
    assert len(summary["query_ids"]) == 1
    assert len(sent_statements(env["url"], s.workgroup)) == 1


def test_failed_query_with_too_many_queries_is_resubmitted(
    env: dict[str, Any], proxy: FaultProxy
) -> None:
    s = env["settings"]
    proxy.faults.append(
        Fault(
            "GetQueryExecution",
            times=1,
            rewrite_status={"State": "FAILED", "StateChangeReason": "TOO_MANY_QUERIES: DDL queue"},
        )
    )
    process_event(
        s3_event(s.bucket, key("2026", "10", "01", "07")),
        s,
        athena=client("athena", proxy.url),
        now=NOW,
    )
    statements = sent_statements(env["url"], s.workgroup)
    assert len(statements) == 2 and statements[0] == statements[1]  # ADD IF NOT EXISTS: idempotent


def test_permanent_failure_raises(env: dict[str, Any], proxy: FaultProxy) -> None:
    s = env["settings"]
    proxy.faults.append(
        Fault(
            "GetQueryExecution",
            times=10,
            rewrite_status={
                "State": "FAILED",
                "StateChangeReason": "FAILED: SemanticException table not found",
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False},
            },
        )
    )
    with pytest.raises(RegistrationError, match="table not found"):
        process_event(
            s3_event(s.bucket, key("2026", "10", "01", "07")),
            s,
            athena=client("athena", proxy.url),
            now=NOW,
        )
    assert len(sent_statements(env["url"], s.workgroup)) == 1


def test_persistent_throttling_gives_up_and_raises(env: dict[str, Any], proxy: FaultProxy) -> None:
    s = env["settings"]
    proxy.faults.append(
        Fault(
            "StartQueryExecution", times=100, body={"__type": "ThrottlingException", "Message": "x"}
        )
    )
    with pytest.raises(RegistrationError, match="gave up after 4 attempts"):
        process_event(
            s3_event(s.bucket, key("2026", "10", "01", "07")),
            s,
            athena=client("athena", proxy.url),
            now=NOW,
        )
    assert proxy.calls.count("StartQueryExecution") == 4


def test_slow_query_is_polled_and_then_timed_out(env: dict[str, Any], proxy: FaultProxy) -> None:
    s = env["settings"]
    # Two polls say RUNNING: the query still succeeds within the timeout.
    proxy.faults.append(Fault("GetQueryExecution", times=2, rewrite_status={"State": "RUNNING"}))
    process_event(
        s3_event(s.bucket, key("2026", "10", "01", "07")),
        s,
        athena=client("athena", proxy.url),
        now=NOW,
    )
    assert proxy.calls.count("GetQueryExecution") == 3
    # A query that never finishes: bounded by the overall timeout, then stopped and raised.
    proxy.faults.append(Fault("GetQueryExecution", times=1000, rewrite_status={"State": "RUNNING"}))
    with pytest.raises(RegistrationError, match="timed out"):
        process_event(
            s3_event(s.bucket, key("2026", "10", "01", "08")),
            s,
            athena=client("athena", proxy.url),
            now=NOW,
            timeout_seconds=0.5,
        )
    assert proxy.calls[-1] == "StopQueryExecution"


def test_glue_mode_creates_partitions_without_athena(env: dict[str, Any]) -> None:
    s = Settings.from_env({**env["vars"], "PARTITION_REGISTRATION": "glue"})
    glue = client("glue", env["url"])
    event = s3_event(
        s.bucket,
        key("2026", "10", "01", "07"),
        key("2026", "10", "01", "07"),
        key("2026", "10", "01", "09"),
    )
    first = process_event(event, s, glue=glue, now=NOW)
    again = process_event(event, s, glue=glue, now=NOW)  # a retried event: already exists is fine
    assert first["partitions_created"] == 2 and again["partitions_created"] == 0
    parts = glue.get_partitions(DatabaseName=s.database, TableName="events")["Partitions"]
    assert sorted((tuple(p["Values"]), p["StorageDescriptor"]["Location"]) for p in parts) == [
        (("2026", "10", "01", h), f"s3://{s.bucket}/events/year=2026/month=10/day=01/hour={h}/")
        for h in ("07", "09")
    ]
    assert sent_statements(env["url"], s.workgroup) == []


def test_glue_mode_retries_throttling(env: dict[str, Any], proxy: FaultProxy) -> None:
    s = Settings.from_env({**env["vars"], "PARTITION_REGISTRATION": "glue"})
    proxy.faults.append(
        Fault(
            "BatchCreatePartition", times=1, body={"__type": "ThrottlingException", "Message": "x"}
        )
    )
    summary = process_event(
        s3_event(s.bucket, key("2026", "10", "01", "10")),
        s,
        glue=client("glue", proxy.url),
        now=NOW,
    )
    assert summary["partitions_created"] == 1
    assert proxy.calls.count("BatchCreatePartition") == 2


def test_warm_cache_skips_partitions_registered_recently(
    env: dict[str, Any], proxy: FaultProxy
) -> None:
    s = env["settings"]
    clock = [1000.0]
    cache = RegisteredCache(clock=lambda: clock[0])
    athena = client("athena", proxy.url)

    def run(*hours: str) -> dict[str, Any]:
        keys = [key("2026", "10", "01", h, f"obj-{i}") for i, h in enumerate(hours)]
        return process_event(s3_event(s.bucket, *keys), s, athena=athena, now=NOW, cache=cache)

    run("07", "08")
    assert run("07", "08")["recently_registered"] == 2  # the next objects of the same hours
    run("08", "09")
    clock[0] += s.cache_seconds + 1
    run("07")
    # A failure is not remembered: the retried event registers the hour.
    proxy.faults.append(
        Fault("StartQueryExecution", times=10, body={"__type": "InvalidRequestException"})
    )
    with pytest.raises(RegistrationError):
        run("10")
    proxy.faults.clear()
    run("10")
    hours_sent = [
        re.findall(r"hour = '([0-9]{2})'", statement)
        for statement in sent_statements(env["url"], s.workgroup)
    ]
    assert sorted(hours_sent) == [["07"], ["07", "08"], ["09"], ["10"]]


@dataclass
class LambdaContext:
    function_name: str = "s3toathena"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:s3toathena"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def test_handler_end_to_end_with_default_client_retries(
    env: dict[str, Any],
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real handler: env config, botocore's own retry absorbs one throttle, JSON logs."""
    for name, value in env["vars"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    proxy.faults.append(
        Fault(
            "StartQueryExecution", times=1, body={"__type": "ThrottlingException", "Message": "x"}
        )
    )
    s3toathena.metrics.clear_metrics()  # earlier tests called process_event outside a handler
    monkeypatch.setattr(s3toathena, "_REGISTERED", RegisteredCache())  # a fresh warm container
    today = datetime.now(UTC)
    y, m, d, h = (f"{today:%Y}", f"{today:%m}", f"{today:%d}", f"{today:%H}")
    event = s3_event(env["settings"].bucket, key(y, m, d, h), "events/bad%27key.parquet")
    summary = s3toathena.handler(event, LambdaContext())
    assert summary["partitions"] == [f"{y}/{m}/{d}/{h}"] and summary["skipped"] == 1
    assert proxy.calls.count("StartQueryExecution") == 2
    skipped = [r for r in caplog.records if r.getMessage() == "skipped object key"]
    assert [(r.key, r.reason) for r in skipped] == [
        ("events/bad'key.parquet", "key_pattern_mismatch")
    ]
    assert any(r.getMessage() == "partitions registered" for r in caplog.records)
    # CloudWatch embedded-metric-format line printed by powertools Metrics.
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert emf and emf[-1]["PartitionsRegistered"] == [1.0] and emf[-1]["KeysSkipped"] == [1.0]
    assert s3toathena.handler({"Event": "s3:TestEvent"}, LambdaContext())["partitions"] == []
    # The next object of the same hour, in the same warm container: no second statement.
    again = s3toathena.handler(event, LambdaContext())
    assert again["recently_registered"] == 1 and "query_ids" not in again
    assert proxy.calls.count("StartQueryExecution") == 2
