"""The stream the consumer forwards to: Kinesis PutRecords, or JSON-lines files on disk.

Both answer one call per chunk with a per-record outcome, so the consumer's retry
logic is the same in production and in the demo.
"""

from __future__ import annotations

import tempfile
import threading
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from weblogs.adapters.lake import write_atomically

#: Kinesis PutRecords limits (per call: records and bytes; per record: data + key).
KINESIS_MAX_RECORDS = 500
KINESIS_MAX_CALL_BYTES = 5 * 1024 * 1024


#: One record for the stream: the event as JSON bytes and its partition key. Streams and
#: the forwarder read it by position, so a plain pair and a `StreamRecord` both serve.
Record = tuple[bytes, str]


class StreamRecord(NamedTuple):
    """One record for the stream, with names: the event as JSON bytes and its partition key."""

    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return record_size(self)


def record_size(record: Record) -> int:
    """What the record counts against Kinesis' limits: its data and its key's UTF-8."""
    return len(record[0]) + len(record[1].encode("utf-8"))


def stream_records(datas: list[bytes], keys: list[str]) -> list[Record]:
    """Many records at once, as plain pairs built by `zip` at C speed: a `StreamRecord`
    per event (a tuple subclass) cost about three times as much, a tenth of the
    consumer's own work per event."""
    return list(zip(datas, keys, strict=True))


#: Per-record outcome of a put: None = stored, else (error code, error message).
PutOutcome = tuple[str, str] | None


class Stream(Protocol):
    """A Kinesis-like stream: one call stores a chunk within the PutRecords limits."""

    def put_records(self, records: list[Record]) -> list[PutOutcome]: ...


class KinesisStream:
    """Kinesis PutRecords; a whole-call error becomes the outcome of every record in it."""

    def __init__(self, client: Any, stream_name: str) -> None:
        self.client = client
        self.stream_name = stream_name

    def put_records(self, records: list[Record]) -> list[PutOutcome]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.put_records(
                StreamName=self.stream_name,
                Records=[{"Data": data, "PartitionKey": key} for data, key in records],
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

    def put_records(self, records: list[Record]) -> list[PutOutcome]:
        with self._lock:
            self._seq += 1
            seq = self._seq
        target = self.directory / f"{self.run_id}-{seq:08d}.jsonl"
        data = b"\n".join([*map(itemgetter(0), records), b""])  # one copy, newline-ended
        try:
            write_atomically(target, data)
        except OSError as exc:
            return [("LocalWriteError", str(exc))] * len(records)
        return [None] * len(records)
