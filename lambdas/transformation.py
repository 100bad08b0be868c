"""Transformation Lambda: a Kinesis batch becomes hive-partitioned Snappy Parquet on S3.

Settings: `TransformationSettings` below (S3_BUCKET, SNS_TOPIC_ARN, REGION). The
work is the shared core (`weblogs.core.transform`); this module only adapts
Kinesis, S3 and SNS to it.

Retries never duplicate: object names come from the shard id and the batch's
first/last sequence numbers, `now` and `ingested_at` come from the records'
arrival times (so a retry computes identical rows), and a batch that cannot be
fully written is rolled back and reported failed as a whole. A record is never
reported for retry because of what it holds: bad content and malformed records go
to the failed store, and an event that is not a Kinesis batch is logged and counted.
"""

from __future__ import annotations

import binascii
import hashlib
import math
import os
import sys
import time
from binascii import a2b_base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
from weblogs.core.collector import collector_paused
from weblogs.core.contract import canonical_json, failed_record
from weblogs.core.settings import setting
from weblogs.core.transform import TransformResult, transform_records

__all__ = ["Batch", "SnsNotifier", "TransformationSettings", "handler", "process_batch"]

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


@dataclass
class Batch:
    """The decoded records of one invocation, in order.

    `add` never raises: a record whose envelope is unusable (not an object, no
    `kinesis` part, no `data` text) is kept in `malformed` with the record as
    received, and goes to the failed store like any rejected event. A missing or
    odd arrival time only loses the `ingested_at` of that record, which then takes
    the latest arrival time of the batch.
    """

    payloads: list[bytes] = field(default_factory=list)
    arrivals_ms: list[int | None] = field(default_factory=list)
    sequence_numbers: list[str | None] = field(default_factory=list)
    shard_id: str = "shard"
    malformed: list[Any] = field(default_factory=list)
    #: Every record's sequence number in order, for the retry report.
    all_sequence_numbers: list[str] = field(default_factory=list)
    _names: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Object name: shard id and first/last sequence number, as the lake layout asks
        (docs/contract.md#2-the-lake); a record without one is named by the digest of
        what it holds instead."""
        return f"{self.shard_id}-{self._names[0]}-{self._names[-1]}"

    @property
    def records(self) -> int:
        return len(self.payloads) + len(self.malformed)

    def extend(self, records: list[Any]) -> None:
        """`add` each record; the well-formed ones (every envelope field there, of its
        type) in a tight loop, without `add`'s per-field checks, to the same lists."""
        if not records:
            return
        self.add(records[0])  # the first names the shard
        payloads, arrivals, sequences = self.payloads, self.arrivals_ms, self.sequence_numbers
        every, names, decode = self.all_sequence_numbers, self._names, a2b_base64
        low, high = _ARRIVAL_RANGE
        for record in records[1:]:
            try:
                kinesis = record["kinesis"]
                data, sequence = kinesis["data"], kinesis["sequenceNumber"]
                arrival = kinesis["approximateArrivalTimestamp"]
                if (
                    type(data) is not str or type(sequence) is not str or not sequence
                    or type(arrival) is not float or not low <= arrival < high
                ):  # fmt: skip
                    raise TypeError  # not the common shape: `add` sorts it out
                payload = decode(data, strict_mode=True)
            except (LookupError, TypeError, ValueError):  # binascii.Error is a ValueError
                self.add(record)
                continue
            payloads.append(payload)
            arrivals.append(int(arrival * 1000))
            sequences.append(sequence)
            every.append(sequence)
            names.append(sequence)

    def add(self, record: Any) -> None:
        """Decode one Kinesis record; validation runs per batch."""
        kinesis = record.get("kinesis") if isinstance(record, dict) else None
        if isinstance(kinesis, dict):
            data, sequence = kinesis.get("data"), kinesis.get("sequenceNumber")
        else:
            data = sequence = None
        sequence = sequence if isinstance(sequence, str) and sequence else None
        if sequence is not None:
            self.all_sequence_numbers.append(sequence)
        self._names.append(sequence or "x" + _digest(record))
        if len(self._names) == 1 and isinstance(record, dict):
            event_id = record.get("eventID")
            if isinstance(event_id, str) and event_id:
                self.shard_id = event_id.split(":", 1)[0]
        if not isinstance(data, str):
            self.malformed.append(record)
            return
        try:
            # `b64decode(data, validate=True)` without its Python wrapper (the hot loop):
            # a non-ASCII text or a stray character raises ValueError all the same.
            self.payloads.append(a2b_base64(data, strict_mode=True))
        except (binascii.Error, ValueError):
            self.payloads.append(data.encode("utf-8", "surrogatepass"))  # fails as invalid_json
        arrival = kinesis.get("approximateArrivalTimestamp")
        if type(arrival) is float and _ARRIVAL_RANGE[0] <= arrival < _ARRIVAL_RANGE[1]:
            self.arrivals_ms.append(int(arrival * 1000))  # the common case of `_arrival_ms`
        else:
            self.arrivals_ms.append(_arrival_ms(arrival))
        self.sequence_numbers.append(sequence)


def _digest(record: Any) -> str:
    try:
        text = canonical_json(record)
    except (TypeError, ValueError, RecursionError):
        text = repr(record).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:20]


#: Arrival times outside this range (epoch seconds) are not used (see `Batch`).
_ARRIVAL_RANGE = (0.0, 1e11)


def _arrival_ms(value: Any) -> int | None:
    if type(value) not in (int, float):
        return None
    if not (math.isfinite(value) and _ARRIVAL_RANGE[0] <= value < _ARRIVAL_RANGE[1]):
        return None
    return int(value * 1000)


class WholeBatchProcessor(BasePartialProcessor):
    """A custom partial processor (powertools' documented extension point) for Kinesis.

    Each record is only collected (`Batch.add`, which never raises); the write
    happens once per batch in `_clean`. Only when storing fails does every record
    become a reported failure, so Lambda retries the whole batch
    (ReportBatchItemFailures); what a record holds never makes it fail.
    """

    def __init__(self, batch: Batch, write: Callable[[], None]) -> None:
        super().__init__()
        self.batch = batch
        self.write = write
        self.stored = True

    def _prepare(self) -> None:
        self.success_messages.clear()
        self.fail_messages.clear()
        self.exceptions.clear()
        self.stored = True

    def process(self) -> list[Any]:
        """Collect every record: `Batch.extend` never raises, so powertools' per-record
        success bookkeeping (a tuple per record, unused by `response`) is skipped."""
        self.batch.extend(list(self.records))
        return []

    def _process_record(self, record: Any) -> Any:
        """Hand the raw record to the collector (no data-class wrapper per record)."""
        try:
            return self.success_handler(record=record, result=self.handler(record))
        except Exception:
            return self.failure_handler(record=record, exception=sys.exc_info())

    async def _async_process_record(self, record: Any) -> Any:
        raise NotImplementedError("the transformation processes Kinesis batches synchronously")

    def _clean(self) -> None:
        if not self.batch.records:
            return
        try:
            self.write()
        except Exception:
            logger.exception("batch not stored; reporting every record for retry")
            metrics.add_metric("BatchesRetried", MetricUnit.Count, 1)
            self.stored = False

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The partial-batch response: every record's sequence number when storing failed."""
        if self.stored:
            return {"batchItemFailures": []}
        return {
            "batchItemFailures": [{"itemIdentifier": n} for n in self.batch.all_sequence_numbers]
        }


def process_batch(
    records: list[Any], lake: Lake, notifier: Notifier, bucket_uri: str
) -> dict[str, Any]:
    """Validate, write and report one Kinesis batch; returns the partial-failure response.

    Only a failure to store (S3, SNS) reports records for retry, and then all of them:
    the batch is written as a whole and rolled back as a whole. What a record holds
    never makes it fail: a bad record goes to the failed store and the rest go on.
    """
    batch = Batch()
    metrics.add_metric("Batches", MetricUnit.Count, 1)
    processor = WholeBatchProcessor(batch, lambda: write_batch(batch, lake, notifier, bucket_uri))
    # The batch's rows are thousands of small tuples alive at once: no cyclic collection
    # while it is processed (weblogs.core.collector says why).
    with collector_paused(), processor(records=records, handler=batch.add):
        processor.process()
    if batch.malformed:
        logger.warning("malformed Kinesis records", extra={"count": len(batch.malformed)})
        metrics.add_metric("MalformedRecords", MetricUnit.Count, len(batch.malformed))
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
    known = [a for a in batch.arrivals_ms if a is not None]
    latest = max(known) if known else int(time.time() * 1000)
    now = datetime.fromtimestamp(latest / 1000, UTC)
    result = transform_records(
        batch.payloads,
        stage=STAGE,
        now=now,
        ingested_at_ms=(
            [latest if a is None else a for a in batch.arrivals_ms]
            if None in batch.arrivals_ms
            else batch.arrivals_ms
        ),
        record_ids=batch.sequence_numbers,
        shard_id=batch.shard_id,
    )
    for record in batch.malformed:
        result.failures.append(
            failed_record(record, "invalid_json", STAGE, now, shard_id=batch.shard_id)
        )
    result.records_in += len(batch.malformed)
    keys = write_result(
        lake,
        result,
        name=batch.name,
        failed_prefix=FAILED_PREFIX,
        failed_day=now,  # from the records' arrival: the same on a retry
    )
    if result.failures:
        try:
            notify_failures(notifier, batch.name, result, f"{bucket_uri}/{keys[-1]}")
        except Exception:
            discard(lake, keys.created)  # roll back what this attempt created, nothing older
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
def handler(event: Any, context: Any) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        # Not a Kinesis event: nothing to store and nothing Lambda could retry usefully.
        logger.error("malformed event: no Records list", extra={"type": type(event).__name__})
        metrics.add_metric("MalformedEvents", MetricUnit.Count, 1)
        return {"batchItemFailures": []}
    lake, notifier, bucket_uri = _adapters()
    return process_batch(records, lake, notifier, bucket_uri)
