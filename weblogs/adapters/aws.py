"""The one region rule and the one way to build a boto3 client.

Clients honour `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (boto3's own
rule), which is how the tests point them at moto's server on loopback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def region(explicit: str | None, env: Mapping[str, str]) -> str | None:
    """The AWS region: the explicit setting, else AWS_REGION, else AWS_DEFAULT_REGION.

    None when none is set: callers that need one say so, the others let boto3 decide.
    """
    return explicit or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def client(
    service: str,
    region_name: str | None = None,
    *,
    connect_timeout: float = 5,
    read_timeout: float = 60,
    max_attempts: int = 3,
) -> Any:
    """A boto3 client with bounded timeouts and botocore's standard retry mode."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region_name,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )
    return boto3.client(service, config=config)
