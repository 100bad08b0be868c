"""Partition registration Lambda: make new Parquet hours queryable as soon as they land.

Triggered by S3 `ObjectCreated` notifications for `events/`. Keys are parsed by the
strict, pure parser in `lambdas.partitions`; only partitions that passed it are
registered, once each per event, either with one Athena DDL statement
(`PARTITION_REGISTRATION=athena`, the default, as in the original system) or with
Glue `BatchCreatePartition` (`PARTITION_REGISTRATION=glue`: no Athena query, no
result files, no DDL queue). A final failure raises so Lambda retries the event.

Environment: ATHENA_DATABASE, ATHENA_TABLE, S3_BUCKET, ATHENA_OUTPUT, REGION, and
optionally ATHENA_WORKGROUP (default `primary`), PARTITION_REGISTRATION,
ATHENA_TIMEOUT_SECONDS (default 60), ATHENA_MAX_ATTEMPTS (default 4),
REGISTERED_CACHE_SECONDS (default 900; 0 disables the warm-container cache).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.partitions import (
    Partition,
    Rejected,
    add_partitions_sql,
    parse_partition_key,
    unique_partitions,
    validate_bucket,
    validate_identifier,
)

logger = Logger(service="s3toathena")
metrics = Metrics(namespace="weblogs", service="s3toathena")

# Athena limits a query string to 256 KiB; ~150 bytes per partition clause.
PARTITIONS_PER_STATEMENT = 100
# Glue BatchCreatePartition takes at most 100 partitions per call.
PARTITIONS_PER_GLUE_BATCH = 100

TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServerException",
        "InternalServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ConcurrentModificationException",
    }
)
# Markers of a failed query that is worth re-submitting (Athena reports these in
# StateChangeReason when its DDL queue or the Glue catalog behind it is saturated).
TRANSIENT_QUERY_MARKERS = (
    "TOO_MANY_QUERIES",
    "ThrottlingException",
    "TooManyRequestsException",
    "Rate exceeded",
    "ConcurrentModificationException",
    "CONCURRENT_QUERY_LIMIT_EXCEEDED",
)


class RegistrationError(RuntimeError):
    """Final failure to register partitions: raised so Lambda retries the event."""


class ConfigError(ValueError):
    """Missing or invalid environment: the function cannot run safely."""


@dataclass(frozen=True)
class Settings:
    """Validated environment of the function."""

    database: str
    table: str
    bucket: str
    output: str | None
    region: str
    workgroup: str = "primary"
    mode: str = "athena"
    timeout_seconds: float = 60.0
    max_attempts: int = 4
    cache_seconds: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; identifiers must be plain names."""
        env = os.environ if env is None else env
        missing = [
            name
            for name in ("ATHENA_DATABASE", "ATHENA_TABLE", "S3_BUCKET", "REGION")
            if not env.get(name)
        ]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        mode = env.get("PARTITION_REGISTRATION", "athena").strip().lower()
        if mode not in ("athena", "glue"):
            raise ConfigError(f"PARTITION_REGISTRATION must be athena or glue, got {mode!r}")
        output = env.get("ATHENA_OUTPUT") or None
        if output is not None and not output.startswith("s3://"):
            raise ConfigError(f"ATHENA_OUTPUT must be an s3:// URI, got {output!r}")
        try:
            return cls(
                database=validate_identifier(env["ATHENA_DATABASE"], "ATHENA_DATABASE"),
                table=validate_identifier(env["ATHENA_TABLE"], "ATHENA_TABLE"),
                bucket=validate_bucket(env["S3_BUCKET"]),
                output=output,
                region=env["REGION"],
                workgroup=env.get("ATHENA_WORKGROUP") or "primary",
                mode=mode,
                timeout_seconds=float(env.get("ATHENA_TIMEOUT_SECONDS", "60")),
                max_attempts=max(1, int(env.get("ATHENA_MAX_ATTEMPTS", "4"))),
                cache_seconds=max(0.0, float(env.get("REGISTERED_CACHE_SECONDS", "900"))),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


@dataclass
class ParsedEvent:
    """Partitions to register and the keys that were skipped (with reasons)."""

    partitions: list[Partition] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    records: int = 0


def partitions_from_event(event: Mapping[str, Any], *, bucket: str, now: datetime) -> ParsedEvent:
    """Collect the distinct valid partitions of an S3 notification; skip everything else."""
    parsed = ParsedEvent()
    if event.get("Event") == "s3:TestEvent":
        return parsed
    records = event.get("Records")
    if not isinstance(records, list):
        parsed.skipped.append(("", "not_an_s3_notification"))
        return parsed
    found: list[Partition] = []
    for record in records:
        parsed.records += 1
        try:
            name = record["eventName"]
            record_bucket = record["s3"]["bucket"]["name"]
            raw_key = record["s3"]["object"]["key"]
        except (KeyError, TypeError):
            parsed.skipped.append(("", "malformed_record"))
            continue
        if not isinstance(name, str) or not name.startswith("ObjectCreated:"):
            parsed.skipped.append((str(raw_key)[:300], "not_object_created"))
            continue
        if not isinstance(raw_key, str) or not isinstance(record_bucket, str):
            parsed.skipped.append(("", "malformed_record"))
            continue
        key = unquote_plus(raw_key)
        result = parse_partition_key(record_bucket, key, expected_bucket=bucket, now=now)
        if isinstance(result, Rejected):
            parsed.skipped.append((key[:300], result.reason))
        else:
            found.append(result)
    parsed.partitions = unique_partitions(found)
    return parsed


def _backoff(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Exponential backoff delay for the n-th retry (1-based)."""
    return float(min(cap, base * (2 ** (attempt - 1))))


def _is_transient_client_error(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return error.get("Code") in TRANSIENT_ERROR_CODES or any(
            marker in str(error.get("Message", "")) for marker in TRANSIENT_QUERY_MARKERS
        )
    return isinstance(exc, BotoCoreError)  # connection resets, read timeouts


def _is_transient_failure(status: Mapping[str, Any]) -> bool:
    athena_error = status.get("AthenaError") or {}
    if athena_error.get("Retryable") is True:
        return True
    reason = f"{status.get('StateChangeReason', '')} {athena_error.get('ErrorMessage', '')}"
    return any(marker in reason for marker in TRANSIENT_QUERY_MARKERS)


def _wait_for_query(
    athena: Any,
    query_id: str,
    *,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Mapping[str, Any]:
    """Poll until the query is terminal, backing off from 0.1 s to 2 s; raise on timeout."""
    delay = 0.1
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return status
        remaining = deadline - clock()
        if remaining <= 0:
            try:
                athena.stop_query_execution(QueryExecutionId=query_id)
            except (ClientError, BotoCoreError):
                logger.warning("could not stop timed-out query", extra={"query_id": query_id})
            raise RegistrationError(f"Athena query {query_id} timed out in state {status['State']}")
        sleep(min(delay, remaining))
        delay = min(delay * 2, 2.0)


def run_athena_statement(
    athena: Any,
    sql: str,
    settings: Settings,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Run one idempotent DDL statement; retry transient failures; return the query id."""
    request: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Database": settings.database},
        "WorkGroup": settings.workgroup,
    }
    if settings.output:
        request["ResultConfiguration"] = {"OutputLocation": settings.output}
    last_problem = "no attempt made"
    for attempt in range(1, settings.max_attempts + 1):
        if attempt > 1:
            delay = min(_backoff(attempt - 1), max(0.0, deadline - clock()))
            logger.warning(
                "retrying partition DDL",
                extra={"attempt": attempt, "delay_s": delay, "problem": last_problem},
            )
            metrics.add_metric(name="AthenaRetries", unit=MetricUnit.Count, value=1)
            sleep(delay)
        if clock() >= deadline:
            raise RegistrationError(f"overall timeout reached; last problem: {last_problem}")
        try:
            query_id = athena.start_query_execution(**request)["QueryExecutionId"]
        except (ClientError, BotoCoreError) as exc:
            if _is_transient_client_error(exc):
                last_problem = f"start_query_execution: {exc}"
                continue
            raise RegistrationError(f"Athena rejected the statement: {exc}") from exc
        status = _wait_for_query(athena, query_id, deadline=deadline, clock=clock, sleep=sleep)
        if status["State"] == "SUCCEEDED":
            return query_id
        reason = status.get("StateChangeReason") or status["State"]
        if status["State"] == "FAILED" and _is_transient_failure(status):
            last_problem = f"query {query_id} failed: {reason}"
            continue
        raise RegistrationError(f"Athena query {query_id} {status['State']}: {reason}")
    raise RegistrationError(f"gave up after {settings.max_attempts} attempts: {last_problem}")


def register_with_athena(
    athena: Any,
    partitions: list[Partition],
    settings: Settings,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Register partitions with `ALTER TABLE ... ADD IF NOT EXISTS`; return the query ids."""
    query_ids = []
    for start in range(0, len(partitions), PARTITIONS_PER_STATEMENT):
        chunk = partitions[start : start + PARTITIONS_PER_STATEMENT]
        sql = add_partitions_sql(settings.database, settings.table, settings.bucket, chunk)
        query_ids.append(
            run_athena_statement(athena, sql, settings, deadline=deadline, clock=clock, sleep=sleep)
        )
    return query_ids


def _partition_input(
    table_descriptor: Mapping[str, Any], part: Partition, bucket: str
) -> dict[str, Any]:
    descriptor = copy.deepcopy(dict(table_descriptor))
    descriptor["Location"] = part.location(bucket)
    return {"Values": list(part.values), "StorageDescriptor": descriptor}


def register_with_glue(
    glue: Any,
    partitions: list[Partition],
    settings: Settings,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Register partitions with Glue BatchCreatePartition; existing ones count as done.

    Returns how many partitions were newly created.
    """
    try:
        table = glue.get_table(DatabaseName=settings.database, Name=settings.table)["Table"]
    except (ClientError, BotoCoreError) as exc:
        raise RegistrationError(f"cannot read Glue table: {exc}") from exc
    descriptor = table["StorageDescriptor"]
    created = 0
    pending = list(partitions)
    for attempt in range(1, settings.max_attempts + 1):
        if attempt > 1:
            sleep(min(_backoff(attempt - 1), max(0.0, deadline - clock())))
        retry: list[Partition] = []
        for start in range(0, len(pending), PARTITIONS_PER_GLUE_BATCH):
            chunk = pending[start : start + PARTITIONS_PER_GLUE_BATCH]
            by_values = {part.values: part for part in chunk}
            try:
                response = glue.batch_create_partition(
                    DatabaseName=settings.database,
                    TableName=settings.table,
                    PartitionInputList=[
                        _partition_input(descriptor, part, settings.bucket) for part in chunk
                    ],
                )
            except (ClientError, BotoCoreError) as exc:
                if not _is_transient_client_error(exc):
                    raise RegistrationError(f"Glue rejected the partitions: {exc}") from exc
                retry.extend(chunk)
                continue
            failed_here = 0
            for error in response.get("Errors", []):
                code = error.get("ErrorDetail", {}).get("ErrorCode", "")
                values = tuple(error.get("PartitionValues", []))
                failed_here += 1
                if code == "AlreadyExistsException":
                    continue
                if code in TRANSIENT_ERROR_CODES and values in by_values:
                    retry.append(by_values[values])
                    continue
                raise RegistrationError(f"Glue could not create partition {values}: {error}")
            created += len(chunk) - failed_here
        if not retry:
            return created
        pending = retry
        if clock() >= deadline:
            break
    raise RegistrationError(f"Glue partitions still failing after retries: {len(pending)}")


class RegisteredCache:
    """Partitions this warm container registered recently.

    An hour of traffic lands as hundreds of objects, each with its own S3 event;
    after the first one registered the hour, the others need no Glue or Athena
    call. Entries expire (default 15 min) so a partition dropped by hand comes
    back soon; a miss only costs one idempotent call.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[Partition, float] = {}
        self._clock = clock

    def fresh(self, partitions: list[Partition]) -> list[Partition]:
        """The partitions not registered within the cache lifetime."""
        now = self._clock()
        return [p for p in partitions if self._until.get(p, 0.0) <= now]

    def remember(self, partitions: list[Partition], seconds: float) -> None:
        if seconds <= 0:
            return
        now = self._clock()
        if len(self._until) > 10_000:  # bounded: drop what has expired
            self._until = {p: t for p, t in self._until.items() if t > now}
        for part in partitions:
            self._until[part] = now + seconds


_REGISTERED = RegisteredCache()


def process_event(
    event: Mapping[str, Any],
    settings: Settings,
    *,
    athena: Any = None,
    glue: Any = None,
    now: datetime | None = None,
    timeout_seconds: float | None = None,
    cache: RegisteredCache | None = None,
) -> dict[str, Any]:
    """Parse, deduplicate and register; return a summary (also logged)."""
    now = now or datetime.now(UTC)
    cache = RegisteredCache() if cache is None else cache
    parsed = partitions_from_event(event, bucket=settings.bucket, now=now)
    for key, reason in parsed.skipped:
        logger.warning("skipped object key", extra={"key": key, "reason": reason})
    todo = cache.fresh(parsed.partitions)
    summary: dict[str, Any] = {
        "records": parsed.records,
        "skipped": len(parsed.skipped),
        "partitions": ["/".join(part.values) for part in parsed.partitions],
        "recently_registered": len(parsed.partitions) - len(todo),
        "mode": settings.mode,
    }
    metrics.add_metric(name="KeysSkipped", unit=MetricUnit.Count, value=len(parsed.skipped))
    if not todo:
        logger.info("nothing to register", extra=summary)
        return summary
    deadline = time.monotonic() + (
        settings.timeout_seconds if timeout_seconds is None else timeout_seconds
    )
    if settings.mode == "glue":
        summary["partitions_created"] = register_with_glue(glue, todo, settings, deadline=deadline)
    else:
        summary["query_ids"] = register_with_athena(athena, todo, settings, deadline=deadline)
    cache.remember(todo, settings.cache_seconds)
    metrics.add_metric(name="PartitionsRegistered", unit=MetricUnit.Count, value=len(todo))
    logger.info("partitions registered", extra=summary)
    return summary


def _client(service: str, region: str) -> Any:
    """A client with bounded timeouts and botocore's standard retry mode."""
    config = BotoConfig(
        region_name=region,
        connect_timeout=5,
        read_timeout=20,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    return boto3.client(service, config=config)


_CLIENTS: dict[tuple[str, str, str], Any] = {}


def _cached_client(service: str, region: str) -> Any:
    """Reuse clients across warm invocations (keyed by endpoint so tests stay isolated)."""
    cache_key = (service, region, os.environ.get("AWS_ENDPOINT_URL", ""))
    if cache_key not in _CLIENTS:
        _CLIENTS[cache_key] = _client(service, region)
    return _CLIENTS[cache_key]


def _remaining_seconds(context: Any) -> float | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() / 1000.0 if callable(getter) else None


@metrics.log_metrics
@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context: Any) -> dict[str, Any]:
    """Lambda entry point: keep a safety margin under the function's own timeout."""
    settings = Settings.from_env()
    remaining = _remaining_seconds(context)
    timeout = settings.timeout_seconds
    if remaining is not None:
        timeout = max(1.0, min(timeout, remaining - 5.0))
    service = "glue" if settings.mode == "glue" else "athena"
    clients = {service: _cached_client(service, settings.region)}
    return process_event(
        event.raw_event, settings, timeout_seconds=timeout, cache=_REGISTERED, **clients
    )
