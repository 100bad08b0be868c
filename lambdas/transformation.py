"""Transformation Lambda: a Kinesis batch becomes hive-partitioned Snappy Parquet on S3.

Settings: `TransformationSettings` below (S3_BUCKET, SNS_TOPIC_ARN, REGION). The
work is the shared core (`weblogs.core.transform`); this module only adapts
Kinesis, S3 and SNS to it.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BasePartialProcessor

from weblogs.adapters import aws
from weblogs.adapters.lake import Lake, S3Lake, discard, write_result
from weblogs.adapters.notify import LogNotifier, Notifier, SnsNotifier
from weblogs.core import layout
from weblogs.core import settings as declared
from weblogs.core.settings import setting
from weblogs.core.transform import TransformResult, transform_records

__all__ = ["Batch", "SnsNotifier", "TransformationSettings", "WholeBatchProcessor", "handler"]

STAGE = "transformation"
FAILED_PREFIX = layout.FAILED_TRANSFORMATION_RECORDS

logger = Logger(service="weblogs-transformation")
metrics = Metrics(namespace="weblogs", service="transformation")


@dataclass(frozen=True)
class TransformationSettings:
    """The function's environment."""

    bucket: str = setting(env="S3_BUCKET", required=True, help="the lake bucket")
    sns_topic_arn: str | None = setting(
        env="SNS_TOPIC_ARN", help="SNS topic for failure summaries; unset: only logged"
    )
    region: str | None = setting(
        env="REGION", help="AWS region (else AWS_REGION, else AWS_DEFAULT_REGION)"
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TransformationSettings:
        values = declared.load(cls, env)
        values["region"] = aws.region(values.get("region"), env)
        return cls(**values)


class WholeBatchProcessor(BasePartialProcessor):
    """A custom partial processor (powertools' documented extension point) for Kinesis.

    Records are only collected per item (`handler`); the write happens once per
    batch in `_clean`, and if it fails every collected record becomes a reported
    failure, so Lambda retries the whole batch (ReportBatchItemFailures).
    """

    def __init__(self, write: Callable[[], None]) -> None:
        super().__init__()
        self.write = write

    def _prepare(self) -> None:
        self.success_messages.clear()
        self.fail_messages.clear()
        self.exceptions.clear()

    def _process_record(self, record: dict[str, Any]) -> Any:
        """Hand the raw record dict to the collector (no data-class wrapper per record)."""
        try:
            return self.success_handler(record=record, result=self.handler(record))
        except Exception:
            return self.failure_handler(record=record, exception=sys.exc_info())

    async def _async_process_record(self, record: dict[str, Any]) -> Any:
        raise NotImplementedError("the transformation processes Kinesis batches synchronously")

    def _clean(self) -> None:
        if not self.success_messages:
            return
        try:
            self.write()
        except Exception:
            logger.exception("batch not stored; reporting every record for retry")
            metrics.add_metric("BatchesRetried", MetricUnit.Count, 1)
            exc_info = sys.exc_info()
            for record in self.success_messages:
                self.failure_handler(record=record, exception=exc_info)
            self.success_messages.clear()

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The partial-batch response: the sequence number of every failed record."""
        return {
            "batchItemFailures": [
                {"itemIdentifier": _sequence_number(record)} for record in self.fail_messages
            ]
        }


def _sequence_number(record: Any) -> str:
    try:
        return str(record["kinesis"]["sequenceNumber"])
    except (KeyError, TypeError):
        return ""  # Lambda retries the whole batch for an unknown identifier


@dataclass
class Batch:
    """The decoded records of one invocation, in order."""

    payloads: list[bytes]
    arrivals_ms: list[int]
    sequence_numbers: list[str]
    shard_id: str = "shard"

    @property
    def name(self) -> str:
        """Object name: shard id and first/last sequence number, as the lake layout asks (docs/contract.md#2-the-lake)."""
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
    batch = Batch([], [], [])
    processor = WholeBatchProcessor(lambda: write_batch(batch, lake, notifier, bucket_uri))
    metrics.add_metric("Batches", MetricUnit.Count, 1)
    with processor(records=records, handler=batch.add):
        processor.process()
    return processor.response()


def notify_failures(notifier: Notifier, batch: str, result: TransformResult, location: str) -> None:
    """One failure summary per batch (never one per record)."""
    message = {
        "stage": STAGE,
        "batch": batch,
        "failed": result.failed,
        "records_in": result.records_in,
        "reasons": result.reasons(),
        "failed_records": location,
    }
    notifier.notify(
        f"weblogs: {result.failed} of {result.records_in} records failed transformation",
        orjson.dumps(message).decode(),
    )


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
            notify_failures(notifier, batch.name, result, f"{bucket_uri}/{keys[-1]}")
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
    config = TransformationSettings.from_env(os.environ)
    notifier: Notifier = LogNotifier(level=30)  # WARNING: no topic is worth noticing
    if config.sns_topic_arn:
        notifier = SnsNotifier(aws.client("sns", config.region), config.sns_topic_arn)
    lake = S3Lake(aws.client("s3", config.region), config.bucket)
    return lake, notifier, f"s3://{config.bucket}"


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    lake, notifier, bucket_uri = _adapters()
    return process_batch(event.get("Records", []), lake, notifier, bucket_uri)
