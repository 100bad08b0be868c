"""Transformation Lambda: a Kinesis batch becomes hive-partitioned Snappy Parquet on S3.

Env: `S3_BUCKET`, `SNS_TOPIC_ARN`, `REGION`. The work is the shared core
(`weblogs.transform`); this module only adapts Kinesis, S3 and SNS to it.

Retries never duplicate: object names come from the shard id and the batch's
first/last sequence numbers, `now` and `ingested_at` come from the records'
arrival times (so a retry computes identical rows), and a batch that cannot be
fully written is rolled back and reported failed as a whole.
"""

from __future__ import annotations

import binascii
import os
import sys
from base64 import b64decode
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from weblogs.lake import Lake, S3Lake, discard, write_result
from weblogs.transform import TransformResult, transform_records

STAGE = "transformation"
FAILED_PREFIX = "failed_transformation_records"

logger = Logger(service="weblogs-transformation")
metrics = Metrics(namespace="weblogs", service="transformation")


class Notifier:
    """Publishes one failure summary per batch to SNS (never one per record)."""

    def __init__(self, client: Any, topic_arn: str | None) -> None:
        self.client = client
        self.topic_arn = topic_arn

    def batch_failed(self, batch: str, result: TransformResult, location: str) -> None:
        if not self.topic_arn:
            logger.warning("SNS_TOPIC_ARN is not set; failure summary only logged")
            return
        message = {
            "stage": STAGE,
            "batch": batch,
            "failed": result.failed,
            "records_in": result.records_in,
            "reasons": result.reasons(),
            "failed_records": location,
        }
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=f"weblogs: {result.failed} of {result.records_in} records failed transformation",
            Message=orjson.dumps(message).decode(),
        )


class WholeBatchProcessor(BatchProcessor):
    """Powertools' Kinesis processor, plus a way to fail the whole batch after the fact.

    Records are only collected per item; the write happens once per batch, so an
    S3 or SNS error must turn every collected record into a reported failure.
    """

    def _process_record(self, record: dict[str, Any]) -> Any:
        """Hand the raw record dict to the collector: a data-class wrapper per record
        costs ~1 µs and the collector reads three keys. Failures still get one."""
        try:
            return self.success_handler(record=record, result=self.handler(record))
        except Exception:
            data = self._to_batch_type(record=record, event_type=self.event_type)
            return self.failure_handler(record=data, exception=sys.exc_info())

    def fail_all(self) -> None:
        exc_info = sys.exc_info()
        for raw in self.success_messages:
            self.failure_handler(
                record=self._to_batch_type(raw, self.event_type), exception=exc_info
            )
        self.success_messages.clear()


@dataclass
class Batch:
    """The decoded records of one invocation, in order."""

    payloads: list[bytes]
    arrivals_ms: list[int]
    sequence_numbers: list[str]
    shard_id: str = "shard"

    @property
    def name(self) -> str:
        """Object name: shard id and first/last sequence number, as SPEC section 2 asks."""
        return f"{self.shard_id}-{self.sequence_numbers[0]}-{self.sequence_numbers[-1]}"

    def add(self, record: dict[str, Any]) -> None:
        """Per-record step of the batch processor: decode only; validation runs per batch."""
        kinesis = record["kinesis"]
        data = kinesis["data"]
        try:
            self.payloads.append(b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            self.payloads.append(data.encode())  # kept as received; fails as invalid_json
        self.arrivals_ms.append(int(kinesis["approximateArrivalTimestamp"] * 1000))
        self.sequence_numbers.append(kinesis["sequenceNumber"])
        if len(self.sequence_numbers) == 1:
            self.shard_id = record["eventID"].split(":", 1)[0]


def process_batch(
    records: list[dict[str, Any]], lake: Lake, notifier: Notifier, bucket_uri: str
) -> dict[str, Any]:
    """Validate, write and report one Kinesis batch; returns the partial-failure response."""
    processor = WholeBatchProcessor(
        event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
    )
    batch = Batch([], [], [])
    metrics.add_metric("Batches", MetricUnit.Count, 1)
    with processor(records=records, handler=batch.add):
        processor.process()
        if batch.payloads:
            try:
                write_batch(batch, lake, notifier, bucket_uri)
            except Exception:
                logger.exception("batch not stored; reporting every record for retry")
                metrics.add_metric("BatchesRetried", MetricUnit.Count, 1)
                processor.fail_all()
    return processor.response()


def write_batch(batch: Batch, lake: Lake, notifier: Notifier, bucket_uri: str) -> None:
    now = datetime.fromtimestamp(max(batch.arrivals_ms) / 1000, UTC)
    result = transform_records(
        batch.payloads,
        stage=STAGE,
        now=now,
        ingested_at_ms=batch.arrivals_ms,
        record_ids=batch.sequence_numbers,
        shard_id=batch.shard_id,
    )
    keys = write_result(lake, result, name=batch.name, failed_prefix=FAILED_PREFIX)
    if result.failures:
        try:
            notifier.batch_failed(batch.name, result, f"{bucket_uri}/{keys[-1]}")
        except Exception:
            discard(lake, keys)  # roll back so a retry with other boundaries adds no copies
            raise
    logger.info(
        "batch stored",
        extra={
            "batch": batch.name,
            "records_in": result.records_in,
            "written": result.written,
            "failed": result.failed,
            "partitions": len(result.partitions),
            "reasons": result.reasons(),
        },
    )
    metrics.add_metric("RecordsIn", MetricUnit.Count, result.records_in)
    metrics.add_metric("RecordsWritten", MetricUnit.Count, result.written)
    metrics.add_metric("RecordsFailed", MetricUnit.Count, result.failed)


@cache
def _adapters() -> tuple[S3Lake, Notifier, str]:
    """Clients built once per container; boto3 honours AWS_ENDPOINT_URL (tests use moto)."""
    import boto3

    bucket = os.environ["S3_BUCKET"]
    region = os.environ.get("REGION") or os.environ.get("AWS_REGION")
    session = boto3.session.Session(region_name=region)
    notifier = Notifier(session.client("sns"), os.environ.get("SNS_TOPIC_ARN"))
    return S3Lake(session.client("s3"), bucket), notifier, f"s3://{bucket}"


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    lake, notifier, bucket_uri = _adapters()
    return process_batch(event.get("Records", []), lake, notifier, bucket_uri)
