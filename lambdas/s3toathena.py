"""Partition registration Lambda: make new Parquet hours queryable as soon as they land.

Triggered by S3 `ObjectCreated` notifications for the events prefix. Keys are parsed
by the strict, pure parser in `weblogs.core.partitions` (the inverse of the lake
layout's `event_key`); only partitions that passed it are registered, once each per
event, either with one Athena DDL statement (`PARTITION_REGISTRATION=athena`, the
default) or with Glue `BatchCreatePartition` (`PARTITION_REGISTRATION=glue`: no
Athena query, no result files, no DDL queue). A final failure raises so Lambda
retries the event. The settings are the fields of `Settings` below.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source

from weblogs.adapters import aws
from weblogs.adapters.catalog import RegisteredCache, register_with_athena, register_with_glue
from weblogs.core import settings as declared
from weblogs.core.errors import ConfigError, RegistrationError
from weblogs.core.partitions import (
    Partition,
    Rejected,
    parse_partition_key,
    unique_partitions,
    validate_bucket,
    validate_identifier,
)
from weblogs.core.settings import setting

__all__ = [
    "ConfigError",
    "ParsedEvent",
    "RegisteredCache",
    "RegistrationError",
    "Settings",
    "handler",
    "partitions_from_event",
    "process_event",
]

logger = Logger(service="s3toathena")
metrics = Metrics(namespace="weblogs", service="s3toathena")


@dataclass(frozen=True)
class Settings:
    """Validated environment of the function."""

    database: str = setting(env="ATHENA_DATABASE", required=True, help="Glue database")
    table: str = setting(env="ATHENA_TABLE", required=True, help="the events table")
    bucket: str = setting(env="S3_BUCKET", required=True, help="the lake bucket")
    output: str | None = setting(env="ATHENA_OUTPUT", help="s3:// URI for Athena's results")
    region: str = setting(env="REGION", required=True, help="AWS region")
    workgroup: str = setting("primary", env="ATHENA_WORKGROUP", help="Athena workgroup")
    mode: str = setting(
        "athena",
        env="PARTITION_REGISTRATION",
        choices=("athena", "glue"),
        help="`athena` (DDL) or `glue` (BatchCreatePartition)",
    )
    timeout_seconds: float = setting(
        60.0, env="ATHENA_TIMEOUT_SECONDS", help="overall deadline per event"
    )
    max_attempts: int = setting(4, env="ATHENA_MAX_ATTEMPTS", help="attempts per statement")
    cache_seconds: float = setting(
        900.0,
        env="REGISTERED_CACHE_SECONDS",
        help="how long a warm container remembers a registered partition (0: never)",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; identifiers must be plain names."""
        values = declared.load(cls, os.environ if env is None else env)
        output = values.get("output")
        if output is not None and not output.startswith("s3://"):
            raise ConfigError(f"ATHENA_OUTPUT must be an s3:// URI, got {output!r}")
        try:
            validate_identifier(values["database"], "ATHENA_DATABASE")
            validate_identifier(values["table"], "ATHENA_TABLE")
            validate_bucket(values["bucket"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        values["max_attempts"] = max(1, values.get("max_attempts", 4))
        values["cache_seconds"] = max(0.0, values.get("cache_seconds", 900.0))
        return cls(**values)


@dataclass
class ParsedEvent:
    """Partitions to register and the keys that were skipped (with reasons)."""

    partitions: list[Partition] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    records: int = 0


def partitions_from_event(
    event: S3Event | Mapping[str, Any], *, bucket: str, now: datetime
) -> ParsedEvent:
    """Collect the distinct valid partitions of an S3 notification; skip everything else."""
    parsed = ParsedEvent()
    raw = event.raw_event if isinstance(event, S3Event) else event
    if not isinstance(raw, Mapping):  # a list, null, text: logged and counted, not raised
        parsed.skipped.append(("", "not_an_s3_notification"))
        return parsed
    s3_event = event if isinstance(event, S3Event) else S3Event(dict(raw))
    if s3_event.get("Event") == "s3:TestEvent":
        return parsed
    if not isinstance(s3_event.get("Records"), list):
        parsed.skipped.append(("", "not_an_s3_notification"))
        return parsed
    found: list[Partition] = []
    for record in s3_event.records:
        parsed.records += 1
        try:
            name = record.event_name
            record_bucket = record.s3.bucket.name
            raw_key = record.s3.get_object.key
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


_REGISTERED = RegisteredCache()


def _count_retry() -> None:
    metrics.add_metric(name="AthenaRetries", unit=MetricUnit.Count, value=1)


def process_event(
    event: S3Event | Mapping[str, Any],
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
        summary["query_ids"] = register_with_athena(
            athena, todo, settings, deadline=deadline, on_retry=_count_retry
        )
    cache.remember(todo, settings.cache_seconds)
    metrics.add_metric(name="PartitionsRegistered", unit=MetricUnit.Count, value=len(todo))
    logger.info("partitions registered", extra=summary)
    return summary


_CLIENTS: dict[tuple[str, str, str], Any] = {}


def _cached_client(service: str, region: str) -> Any:
    """Reuse clients across warm invocations (keyed by endpoint so tests stay isolated)."""
    cache_key = (service, region, os.environ.get("AWS_ENDPOINT_URL", ""))
    if cache_key not in _CLIENTS:
        _CLIENTS[cache_key] = aws.client(service, region, read_timeout=20, max_attempts=3)
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
    return process_event(event, settings, timeout_seconds=timeout, cache=_REGISTERED, **clients)
