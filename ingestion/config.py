"""Consumer configuration: every setting declared once, checked once at start-up.

A consumer meant to run for months should refuse a bad setting immediately with one
clear line, not fail at 3 a.m. on the first batch. Each field of `ConsumerConfig`
carries its environment variable, flag, range and help (`weblogs.core.settings`);
the parsing, the flags and the table in docs/ingestion.md all come from it.
Command-line flags override the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from weblogs.adapters.aws import region as resolve_region
from weblogs.core import layout, settings
from weblogs.core.errors import ConfigError
from weblogs.core.redact import redact
from weblogs.core.settings import setting

__all__ = ["BACKENDS", "ConfigError", "ConsumerConfig", "load_config"]

BACKENDS = ("aws", "local")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_BUCKET = re.compile(r"(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")


@dataclass(frozen=True)
class ConsumerConfig:
    """Everything the consumer needs; docs/ingestion.md shows the table of these fields."""

    api_url: str = setting(
        env="API_URL",
        flag="--api-url",
        shown_default="required",
        help="http(s) URL to GET; `limit=N` is added unless the URL has one",
    )
    backend: str = setting(
        "aws", env="WEBLOGS_BACKEND", flag="--backend", choices=BACKENDS, help="`aws` or `local`"
    )
    kinesis_stream_name: str | None = setting(
        env="KINESIS_STREAM_NAME", shown_default="required (aws)", help="the stream"
    )
    s3_bucket: str | None = setting(
        env="S3_BUCKET", shown_default="required (aws)", help="the lake bucket"
    )
    sns_topic_arn: str | None = setting(
        env="FAILED_RECORDS_SNS_ARN",
        help="SNS topic for failure batches; unset: the notice goes to the log",
    )
    region: str | None = setting(
        env="REGION",
        shown_default="`AWS_REGION` / `AWS_DEFAULT_REGION`",
        help="AWS region (required with the aws backend)",
    )
    lake_root: Path | None = setting(
        env=layout.LAKE_ROOT_ENV,
        flag="--lake",
        shown_default=f"`{layout.DEFAULT_LAKE_ROOT}`",
        help="local backend: the lake folder",
    )
    stream_dir: Path | None = setting(
        env="WEBLOGS_STREAM_DIR",
        flag="--stream-dir",
        shown_default="`<lake>/../stream`",
        help="local backend: the stream folder",
    )
    poll_interval: float = setting(
        1.0,
        env="POLL_INTERVAL",
        flag="--poll-interval",
        minimum=0,
        maximum=3600,
        help="seconds to wait when the API had less than a full page",
    )
    s3_batch_size: int = setting(
        100,
        env="S3_BATCH_SIZE",
        flag="--batch-size",
        minimum=1,
        maximum=100_000,
        help=f"events per `{layout.RAW}/` / `{layout.EXTRA_COLUMNS}/` object",
    )
    s3_batch_seconds: float = setting(
        10.0,
        env="S3_BATCH_SECONDS",
        flag="--batch-seconds",
        minimum=0.01,
        maximum=86_400,
        help="the oldest buffered event waits at most this long",
    )
    page_limit: int = setting(
        500,
        env="API_PAGE_LIMIT",
        flag="--page-limit",
        minimum=1,
        maximum=10_000,
        help="events asked per request (one PutRecords call)",
    )
    http_timeout: float = setting(
        10.0,
        env="API_TIMEOUT",
        minimum=0.1,
        maximum=600,
        help="seconds for the API's response (connect: at most 5)",
    )
    api_max_retries: int = setting(
        5, env="API_MAX_RETRIES", minimum=0, maximum=20, help="urllib3 retries per request"
    )
    api_backoff: float = setting(
        0.5,
        env="API_BACKOFF",
        minimum=0,
        maximum=60,
        help="urllib3 backoff factor and jitter, seconds",
    )
    kinesis_max_attempts: int = setting(
        5,
        env="KINESIS_MAX_ATTEMPTS",
        minimum=1,
        maximum=20,
        help=f"attempts per record before `{layout.KINESIS_FAILURES}/`",
    )
    progress_seconds: float = setting(
        10.0,
        env="PROGRESS_SECONDS",
        flag="--progress-seconds",
        minimum=0.1,
        maximum=86_400,
        help="seconds between progress lines and metric flushes",
    )
    metrics: bool = setting(
        True,
        env="EMF_METRICS",
        flag="--no-metrics",
        flag_sets=False,
        help="CloudWatch EMF lines on stdout",
    )
    max_events: int | None = setting(
        env="MAX_EVENTS",
        flag="--max-events",
        minimum=1,
        maximum=10**12,
        help="stop (gracefully) after this many events",
    )
    shutdown_seconds: float = setting(
        90.0,
        env="SHUTDOWN_SECONDS",
        minimum=1,
        maximum=3600,
        help="how long the final flush may retry S3",
    )
    api_max_compressed_bytes: int = setting(
        32 * 1024 * 1024,
        env="API_MAX_COMPRESSED_BYTES",
        minimum=1024,
        maximum=1 << 30,
        shown_default="`33554432` (32 MiB)",
        help="most bytes one response may put on the wire",
    )
    api_max_response_bytes: int = setting(
        32 * 1024 * 1024,
        env="API_MAX_RESPONSE_BYTES",
        minimum=1024,
        maximum=1 << 30,
        shown_default="`33554432` (32 MiB)",
        help="most bytes one response may inflate to (gzip, deflate)",
    )
    api_response_seconds: float = setting(
        60.0,
        env="API_RESPONSE_SECONDS",
        minimum=0.1,
        maximum=3600,
        help="deadline for a whole response, from the request to its last byte",
    )
    response_sample_bytes: int = setting(
        64 * 1024,
        env="RESPONSE_SAMPLE_BYTES",
        minimum=0,
        maximum=1 << 20,
        help="bytes of a refused response kept in the failed store",
    )
    api_max_redirects: int = setting(
        3,
        env="API_MAX_REDIRECTS",
        minimum=0,
        maximum=10,
        help="redirects followed, and only to the same scheme, host and port",
    )


def load_config(
    env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> ConsumerConfig:
    """Build and validate the configuration; flags (`overrides`) win over the environment."""
    values = settings.load(ConsumerConfig, env, overrides)
    _check_api_url(values.get("api_url"))
    if values.get("backend", "aws") == "aws":
        _check_aws(values, env)
    else:
        values.setdefault("lake_root", layout.DEFAULT_LAKE_ROOT)
        values.setdefault("stream_dir", Path(values["lake_root"]).parent / "stream")
    return ConsumerConfig(**values)


def _check_api_url(api_url: str | None) -> None:
    if not api_url:
        raise ConfigError(
            "API_URL is not set (the web-traffic API to poll, e.g. http://host/events)"
        )
    parts = urlsplit(str(api_url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"API_URL must be an http(s) URL with a host, got {redact(str(api_url))!r}"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"API_URL has an invalid port: {redact(str(api_url))!r}") from None


def _check_aws(values: dict[str, Any], env: Mapping[str, str]) -> None:
    """What the aws backend needs: a stream, a bucket, a region; a well-formed topic ARN."""
    stream = values.get("kinesis_stream_name")
    if not stream:
        raise ConfigError("KINESIS_STREAM_NAME is not set (required with the aws backend)")
    if not _STREAM_NAME.fullmatch(stream):
        raise ConfigError(f"KINESIS_STREAM_NAME must be 1-128 of A-Z a-z 0-9 _ . -, got {stream!r}")
    bucket = values.get("s3_bucket")
    if not bucket:
        raise ConfigError("S3_BUCKET is not set (required with the aws backend)")
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"S3_BUCKET is not a valid bucket name: {bucket!r}")
    region = resolve_region(values.get("region"), env)
    if not region:
        raise ConfigError("REGION is not set (e.g. us-east-1)")
    if not _REGION.fullmatch(region):
        raise ConfigError(f"REGION does not look like an AWS region: {region!r}")
    values["region"] = region
    arn = values.get("sns_topic_arn")
    if arn and not _SNS_ARN.fullmatch(arn):
        raise ConfigError(f"FAILED_RECORDS_SNS_ARN is not an SNS topic ARN: {arn!r}")
