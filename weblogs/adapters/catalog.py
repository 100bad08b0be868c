"""Registering partitions in the Glue catalog: Athena DDL or Glue BatchCreatePartition.

Both are idempotent (`ADD IF NOT EXISTS`, AlreadyExists counts as done), retried on
throttling and transient failures with backoff, and bounded by a deadline. The
statements come from `weblogs.core.partitions`, built from validated integers.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from weblogs.core.errors import RegistrationError
from weblogs.core.partitions import Partition, add_partitions_sql

log = logging.getLogger("s3toathena")

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


class Target(Protocol):
    """Where partitions go and how hard to try (the function's settings)."""

    database: str
    table: str
    bucket: str
    output: str | None
    workgroup: str
    max_attempts: int


def _no_retry_hook() -> None:
    return None


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
                log.warning("could not stop timed-out query", extra={"query_id": query_id})
            raise RegistrationError(f"Athena query {query_id} timed out in state {status['State']}")
        sleep(min(delay, remaining))
        delay = min(delay * 2, 2.0)


def run_athena_statement(
    athena: Any,
    sql: str,
    settings: Target,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[], None] = _no_retry_hook,
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
            log.warning(
                "retrying partition DDL",
                extra={"attempt": attempt, "delay_s": delay, "problem": last_problem},
            )
            on_retry()
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
    settings: Target,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[], None] = _no_retry_hook,
) -> list[str]:
    """Register partitions with `ALTER TABLE ... ADD IF NOT EXISTS`; return the query ids."""
    query_ids = []
    for start in range(0, len(partitions), PARTITIONS_PER_STATEMENT):
        chunk = partitions[start : start + PARTITIONS_PER_STATEMENT]
        sql = add_partitions_sql(settings.database, settings.table, settings.bucket, chunk)
        query_ids.append(
            run_athena_statement(
                athena,
                sql,
                settings,
                deadline=deadline,
                clock=clock,
                sleep=sleep,
                on_retry=on_retry,
            )
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
    settings: Target,
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
