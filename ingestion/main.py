"""Starting the consumer: flags from the declared settings, start-up checks, signals.

`python -m ingestion` (the container's entry point) and `weblogs consume` both end
in `run_consume`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping

from ingestion.backends import Backends, KinesisStream
from ingestion.config import ConsumerConfig, load_config
from ingestion.consumer import Consumer
from weblogs.adapters.lake import S3Lake
from weblogs.core import settings
from weblogs.core.errors import ConfigError, UsageError
from weblogs.core.redact import RedactingFormatter, redact

log = logging.getLogger("ingestion")

DESCRIPTION = (
    "The API consumer. Configured by the environment (API_URL, KINESIS_STREAM_NAME, "
    "S3_BUCKET, FAILED_RECORDS_SNS_ARN, REGION, POLL_INTERVAL, S3_BATCH_SIZE, "
    "S3_BATCH_SECONDS; docs/ingestion.md lists them all); flags override it. "
    "SIGTERM/SIGINT flush and exit 0."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The consumer's flags, generated from `ConsumerConfig`."""
    settings.add_arguments(parser, ConsumerConfig)


def config_from_args(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> ConsumerConfig:
    return load_config(
        os.environ if env is None else env, settings.flag_values(args, ConsumerConfig)
    )


def check_aws(backends: Backends) -> None:
    """Fail at start-up, not on the first batch, when the stream or bucket is unusable."""
    from botocore.exceptions import BotoCoreError, ClientError

    stream = backends.stream
    lake = backends.lake
    try:
        if isinstance(stream, KinesisStream):
            stream.client.describe_stream_summary(StreamName=stream.stream_name)
        if isinstance(lake, S3Lake):
            lake.client.head_bucket(Bucket=lake.bucket)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ConfigError(
            f"AWS check failed: {error.get('Code', 'error')}: {error.get('Message') or exc}"
        ) from None
    except BotoCoreError as exc:
        raise ConfigError(f"AWS check failed: {exc}") from None


def setup_logging() -> None:
    """One stderr handler on the root logger, redacting: the consumer's lines and those of
    the libraries (urllib3 logs the path and query of every retried request) alike."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("consume: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    log.handlers.clear()
    log.setLevel(logging.INFO)
    log.propagate = True


def run_consume(args: argparse.Namespace) -> int:
    """Entry point of `weblogs consume` and `python -m ingestion`."""
    try:
        config = config_from_args(args)
        consumer = Consumer(config)
        if config.backend == "aws":
            check_aws(consumer.backends)
    except (UsageError, OSError) as exc:  # ConfigError and LakeError are UsageErrors
        raise UsageError(str(exc)) from None
    setup_logging()

    def on_signal(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if consumer.stop_event.is_set():
            log.info("%s again: still flushing", name)
        consumer.request_stop(name)
        consumer.interrupt()  # a blocking read in progress ends soon, not at its timeout

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return consumer.run()


def main(argv: list[str] | None = None) -> int:
    """`python -m ingestion`: the container's entry point."""
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_consume(args)
    except UsageError as exc:
        print(f"consume: error: {redact(str(exc))}", file=sys.stderr)
        return 2
