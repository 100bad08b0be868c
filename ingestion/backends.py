"""Where the consumer's output goes: Kinesis + S3 + SNS on AWS, or files on this machine.

The consumer talks to three small interfaces (a stream, a lake, a notifier) so the
same code path runs in production and in the demo; only `build_backends` knows
which one it has.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ingestion.config import ConsumerConfig
from weblogs.lake import Lake, LocalLake, S3Lake, write_atomically

log = logging.getLogger("ingestion")

#: Kinesis PutRecords limits (per call: records and bytes; per record: data + key).
KINESIS_MAX_RECORDS = 500
KINESIS_MAX_CALL_BYTES = 5 * 1024 * 1024


class StreamRecord(NamedTuple):
    """One record for the stream: the event as JSON bytes and its partition key."""

    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


def stream_records(datas: list[bytes], keys: list[str]) -> list[StreamRecord]:
    """Many records at once, at C speed (`tuple.__new__` skips NamedTuple's Python
    `__new__`, which would cost as much per event as validating it)."""
    return list(map(tuple.__new__, repeat(StreamRecord), zip(datas, keys, strict=True)))


#: Per-record outcome of a put: None = stored, else (error code, error message).
PutOutcome = tuple[str, str] | None


class Stream(Protocol):
    """A Kinesis-like stream: one call stores a chunk within the PutRecords limits."""

    def put_records(self, records: list[StreamRecord]) -> list[PutOutcome]: ...


class Notifier(Protocol):
    def notify(self, subject: str, message: str) -> None: ...


class KinesisStream:
    """Kinesis PutRecords; a whole-call error becomes the outcome of every record in it."""

    def __init__(self, client: Any, stream_name: str) -> None:
        self.client = client
        self.stream_name = stream_name

    def put_records(self, records: list[StreamRecord]) -> list[PutOutcome]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.put_records(
                StreamName=self.stream_name,
                Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in records],
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            outcome = (str(error.get("Code", "ClientError")), str(error.get("Message", exc)))
            return [outcome] * len(records)
        except BotoCoreError as exc:
            return [(type(exc).__name__, str(exc))] * len(records)
        results = response.get("Records", [])
        if len(results) != len(records):  # never seen; treat as a failure rather than guess
            return [("InvalidResponse", "PutRecords returned a different record count")] * len(
                records
            )
        return [
            (str(r["ErrorCode"]), str(r.get("ErrorMessage", ""))) if r.get("ErrorCode") else None
            for r in results
        ]


class LocalStream:
    """Kinesis on disk: each put is one JSON-lines file (one raw event per line), written
    atomically, named so `sorted()` is arrival order. `weblogs transform --input DIR` reads it.
    """

    def __init__(self, directory: Path, run_id: str) -> None:
        self.directory = Path(directory)
        self.run_id = run_id
        self._seq = 0
        self._lock = threading.Lock()

    def check_writable(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
            pass

    def put_records(self, records: list[StreamRecord]) -> list[PutOutcome]:
        with self._lock:
            self._seq += 1
            seq = self._seq
        target = self.directory / f"{self.run_id}-{seq:08d}.jsonl"
        data = b"\n".join(map(itemgetter(0), records)) + b"\n"
        try:
            write_atomically(target, data)
        except OSError as exc:
            return [("LocalWriteError", str(exc))] * len(records)
        return [None] * len(records)


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn

    def notify(self, subject: str, message: str) -> None:
        self.client.publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=message)


class LogNotifier:
    """No SNS topic (local runs, or none configured): the notification goes to the log."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def notify(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))
        log.debug("notification: %s", subject)


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
        lake = LocalLake(config.lake_root)
        lake.check_writable()
        stream = LocalStream(config.stream_dir, run_id)
        stream.check_writable()
        return Backends(
            stream,
            lake,
            LogNotifier(),
            f"local lake {config.lake_root}, local stream {config.stream_dir}",
        )
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=config.region)
    kinesis = session.client(
        "kinesis",
        config=Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
        ),
    )
    s3 = session.client(
        "s3",
        config=Config(
            retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60
        ),
    )
    assert config.kinesis_stream_name and config.s3_bucket
    notifier: Notifier = LogNotifier()
    if config.sns_topic_arn:
        notifier = SnsNotifier(
            session.client("sns", config=Config(retries={"mode": "standard"})),
            config.sns_topic_arn,
        )
    return Backends(
        KinesisStream(kinesis, config.kinesis_stream_name),
        S3Lake(s3, config.s3_bucket),
        notifier,
        f"kinesis {config.kinesis_stream_name}, s3://{config.s3_bucket}",
    )
