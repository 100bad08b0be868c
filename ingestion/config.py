"""Consumer configuration: the seed's environment variables, checked once at start-up.

A consumer meant to run for months should refuse a bad setting immediately with one
clear line, not fail at 3 a.m. on the first batch. Every value is validated here, and
command-line flags override the environment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BACKENDS = ("aws", "local")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_BUCKET = re.compile(r"(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable and what is accepted."""


@dataclass(frozen=True)
class ConsumerConfig:
    """Everything the consumer needs; see docs/ingestion.md for each setting."""

    api_url: str
    backend: str = "aws"
    kinesis_stream_name: str | None = None
    s3_bucket: str | None = None
    sns_topic_arn: str | None = None
    region: str | None = None
    lake_root: Path | None = None
    stream_dir: Path | None = None
    poll_interval: float = 1.0
    s3_batch_size: int = 100
    s3_batch_seconds: float = 10.0
    page_limit: int = 500
    http_timeout: float = 10.0
    api_max_retries: int = 5
    api_backoff: float = 0.5
    kinesis_max_attempts: int = 5
    progress_seconds: float = 10.0
    metrics: bool = True
    max_events: int | None = None
    shutdown_seconds: float = 90.0


# (environment variable, config field)
_ENV: tuple[tuple[str, str], ...] = (
    ("API_URL", "api_url"),
    ("WEBLOGS_BACKEND", "backend"),
    ("KINESIS_STREAM_NAME", "kinesis_stream_name"),
    ("S3_BUCKET", "s3_bucket"),
    ("FAILED_RECORDS_SNS_ARN", "sns_topic_arn"),
    ("REGION", "region"),
    ("WEBLOGS_LAKE_ROOT", "lake_root"),
    ("WEBLOGS_STREAM_DIR", "stream_dir"),
    ("POLL_INTERVAL", "poll_interval"),
    ("S3_BATCH_SIZE", "s3_batch_size"),
    ("S3_BATCH_SECONDS", "s3_batch_seconds"),
    ("API_PAGE_LIMIT", "page_limit"),
    ("API_TIMEOUT", "http_timeout"),
    ("API_MAX_RETRIES", "api_max_retries"),
    ("API_BACKOFF", "api_backoff"),
    ("KINESIS_MAX_ATTEMPTS", "kinesis_max_attempts"),
    ("PROGRESS_SECONDS", "progress_seconds"),
    ("EMF_METRICS", "metrics"),
    ("MAX_EVENTS", "max_events"),
    ("SHUTDOWN_SECONDS", "shutdown_seconds"),
)
ENV_FOR_FIELD = {f: env for env, f in _ENV}


def _number(name: str, text: str, *, minimum: float, maximum: float, integer: bool) -> Any:
    try:
        value: float = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, got {text!r}") from None
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum:g} and {maximum:g}, got {text!r}")
    return value


_NUMBERS: dict[str, tuple[float, float, bool]] = {
    "poll_interval": (0, 3600, False),
    "s3_batch_size": (1, 100_000, True),
    "s3_batch_seconds": (0.01, 86_400, False),
    "page_limit": (1, 10_000, True),
    "http_timeout": (0.1, 600, False),
    "api_max_retries": (0, 20, True),
    "api_backoff": (0, 60, False),
    "kinesis_max_attempts": (1, 20, True),
    "progress_seconds": (0.1, 86_400, False),
    "max_events": (1, 10**12, True),
    "shutdown_seconds": (1, 3600, False),
}


def load_config(
    env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> ConsumerConfig:
    """Build and validate the configuration; flags (`overrides`) win over the environment."""
    raw: dict[str, Any] = {}
    for env_name, name in _ENV:
        text = env.get(env_name, "").strip()
        if text:
            raw[name] = text
    for name, value in (overrides or {}).items():
        if value is not None:
            raw[name] = value

    values: dict[str, Any] = {}
    for name, value in raw.items():
        label = ENV_FOR_FIELD[name]
        if name in _NUMBERS and isinstance(value, str):
            low, high, integer = _NUMBERS[name]
            values[name] = _number(label, value, minimum=low, maximum=high, integer=integer)
        elif name in _NUMBERS:
            low, high, integer = _NUMBERS[name]
            values[name] = _number(label, str(value), minimum=low, maximum=high, integer=integer)
        elif name == "metrics" and isinstance(value, str):
            lowered = value.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ConfigError(f"{label} must be true or false, got {value!r}")
            values[name] = lowered in ("true", "1", "yes")
        elif name in ("lake_root", "stream_dir"):
            values[name] = Path(value)
        else:
            values[name] = value

    api_url = values.get("api_url")
    if not api_url:
        raise ConfigError(
            "API_URL is not set (the web-traffic API to poll, e.g. http://host/events)"
        )
    parts = urlsplit(str(api_url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"API_URL must be an http(s) URL with a host, got {api_url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"API_URL has an invalid port: {api_url!r}") from None

    backend = str(values.get("backend", "aws")).lower()
    if backend not in BACKENDS:
        raise ConfigError(f"WEBLOGS_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
    values["backend"] = backend

    if backend == "aws":
        stream = values.get("kinesis_stream_name")
        if not stream:
            raise ConfigError("KINESIS_STREAM_NAME is not set (required with the aws backend)")
        if not _STREAM_NAME.fullmatch(stream):
            raise ConfigError(
                f"KINESIS_STREAM_NAME must be 1-128 of A-Z a-z 0-9 _ . -, got {stream!r}"
            )
        bucket = values.get("s3_bucket")
        if not bucket:
            raise ConfigError("S3_BUCKET is not set (required with the aws backend)")
        if not _BUCKET.fullmatch(bucket):
            raise ConfigError(f"S3_BUCKET is not a valid bucket name: {bucket!r}")
        region = values.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            raise ConfigError("REGION is not set (e.g. us-east-1)")
        if not _REGION.fullmatch(region):
            raise ConfigError(f"REGION does not look like an AWS region: {region!r}")
        values["region"] = region
        arn = values.get("sns_topic_arn")
        if arn and not _SNS_ARN.fullmatch(arn):
            raise ConfigError(f"FAILED_RECORDS_SNS_ARN is not an SNS topic ARN: {arn!r}")
    else:
        if "lake_root" not in values:
            values["lake_root"] = Path("data/lake")
        if "stream_dir" not in values:
            values["stream_dir"] = Path(values["lake_root"]).parent / "stream"
    return ConsumerConfig(**values)
