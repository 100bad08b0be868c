"""Where the consumer's output goes: Kinesis + S3 + SNS on AWS, or files on this machine.

The consumer talks to three small interfaces (a stream, a lake, a notifier) so the
same code path runs in production and in the demo; only `build_backends` knows
which one it has.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.config import ConsumerConfig
from weblogs.adapters import aws
from weblogs.adapters.lake import Lake, open_lake
from weblogs.adapters.notify import LogNotifier, Notifier, SnsNotifier
from weblogs.adapters.stream import (
    KINESIS_MAX_CALL_BYTES,
    KINESIS_MAX_RECORDS,
    KinesisStream,
    LocalStream,
    PutOutcome,
    Stream,
    StreamRecord,
    stream_records,
)

__all__ = [
    "KINESIS_MAX_CALL_BYTES",
    "KINESIS_MAX_RECORDS",
    "Backends",
    "KinesisStream",
    "LocalStream",
    "LogNotifier",
    "PutOutcome",
    "StreamRecord",
    "build_backends",
    "stream_records",
]


@dataclass
class Backends:
    stream: Stream
    lake: Lake
    notifier: Notifier
    description: str


def build_backends(config: ConsumerConfig, run_id: str) -> Backends:
    """Clients for the configured backend; AWS endpoints honour AWS_ENDPOINT_URL(_<SERVICE>)."""
    if config.backend == "local":
        assert config.lake_root is not None and config.stream_dir is not None
        lake = open_lake(config.lake_root)  # the one way to a lake, for every --lake
        lake.check_writable()
        stream = LocalStream(config.stream_dir, run_id)
        stream.check_writable()
        return Backends(
            stream,
            lake,
            LogNotifier(),
            f"local lake {config.lake_root}, local stream {config.stream_dir}",
        )
    assert config.kinesis_stream_name and config.s3_bucket
    kinesis = aws.client("kinesis", config.region, read_timeout=30, max_attempts=4)
    s3 = aws.client("s3", config.region, read_timeout=60, max_attempts=6)
    notifier: Notifier = LogNotifier()
    if config.sns_topic_arn:
        notifier = SnsNotifier(aws.client("sns", config.region), config.sns_topic_arn)
    return Backends(
        KinesisStream(kinesis, config.kinesis_stream_name),
        open_lake(f"s3://{config.s3_bucket}", s3_client=s3),
        notifier,
        f"kinesis {config.kinesis_stream_name}, s3://{config.s3_bucket}",
    )
