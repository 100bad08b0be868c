"""The API consumer with the local backend, against the simulator on loopback.

Every test checks the accounting: everything the API served ends in the stream or
in the failed store with its reason; bad responses are kept whole.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingestion.backends import Backends, LocalStream, LogNotifier, StreamRecord
from ingestion.config import ConfigError, ConsumerConfig, load_config
from ingestion.consumer import (
    ArchiveBuffer,
    Consumer,
    chunk_records,
    parse_page,
)
from weblogs.adapters.lake import LocalLake
from weblogs.cli.local_pipeline import run_local_pipeline
from weblogs.core.contract import payload_bytes
from weblogs.simulator import SimulatorServer, TrafficGenerator

REPO = Path(__file__).resolve().parents[3]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def lines(lake: Path, prefix: str) -> list[bytes]:
    out: list[bytes] = []
    for path in sorted((lake / prefix).rglob("*.jsonl")):
        out.extend(path.read_bytes().splitlines())
    return out


def stream_lines(stream_dir: Path) -> list[bytes]:
    out: list[bytes] = []
    for path in sorted(stream_dir.glob("*.jsonl")):
        out.extend(path.read_bytes().splitlines())
    return out


def local_config(tmp_path: Path, url: str, **overrides: Any) -> ConsumerConfig:
    values: dict[str, Any] = {
        "api_url": url,
        "backend": "local",
        "lake_root": tmp_path / "lake",
        "stream_dir": tmp_path / "stream",
        "poll_interval": 0.02,
        "metrics": False,
        "progress_seconds": 3600,
        "api_max_retries": 3,
        "api_backoff": 0.05,
    }
    values.update(overrides)
    return ConsumerConfig(**values)


@pytest.fixture
def run_in_thread() -> Iterator[Any]:
    """Start a consumer in a thread; always stopped at the end of the test."""
    started: list[tuple[Consumer, threading.Thread, dict[str, int]]] = []

    def start(consumer: Consumer) -> dict[str, int]:
        result: dict[str, int] = {}
        thread = threading.Thread(target=lambda: result.setdefault("code", consumer.run()))
        thread.start()
        started.append((consumer, thread, result))
        return result

    yield start
    for consumer, thread, _ in started:
        consumer.request_stop("test over")
        thread.join(timeout=30)


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "API_URL is not set"),
        ({"API_URL": "ftp://x/events"}, "API_URL must be an http(s) URL"),
        ({"API_URL": "http://h/e"}, "KINESIS_STREAM_NAME is not set"),
        ({"API_URL": "http://h/e", "KINESIS_STREAM_NAME": "bad name!"}, "KINESIS_STREAM_NAME"),
        ({"API_URL": "http://h/e", "KINESIS_STREAM_NAME": "s"}, "S3_BUCKET is not set"),
        (
            {"API_URL": "http://h/e", "KINESIS_STREAM_NAME": "s", "S3_BUCKET": "Bad_Bucket"},
            "S3_BUCKET is not a valid bucket name",
        ),
        (
            {"API_URL": "http://h/e", "KINESIS_STREAM_NAME": "s", "S3_BUCKET": "bkt"},
            "REGION is not set",
        ),
        (
            {
                "API_URL": "http://h/e",
                "KINESIS_STREAM_NAME": "s",
                "S3_BUCKET": "bkt",
                "REGION": "us-east-1",
                "FAILED_RECORDS_SNS_ARN": "topic",
            },
            "FAILED_RECORDS_SNS_ARN is not an SNS topic ARN",
        ),
        ({"API_URL": "http://h/e", "POLL_INTERVAL": "soon"}, "POLL_INTERVAL must be a number"),
        ({"API_URL": "http://h/e", "POLL_INTERVAL": "-1"}, "POLL_INTERVAL must be between"),
        ({"API_URL": "http://h/e", "S3_BATCH_SIZE": "1.5"}, "S3_BATCH_SIZE must be an integer"),
        ({"API_URL": "http://h/e", "S3_BATCH_SIZE": "0"}, "S3_BATCH_SIZE must be between"),
        ({"API_URL": "http://h/e", "S3_BATCH_SECONDS": "nan"}, "S3_BATCH_SECONDS must be"),
        ({"API_URL": "http://h/e", "WEBLOGS_BACKEND": "gcp"}, "WEBLOGS_BACKEND must be one of"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(env)


def test_config_defaults() -> None:
    config = load_config(
        {
            "API_URL": "http://api.example.com/events",
            "KINESIS_STREAM_NAME": "weblogs_stream",
            "S3_BUCKET": "weblogs-bucket",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert (config.poll_interval, config.s3_batch_size, config.s3_batch_seconds) == (1.0, 100, 10)
    assert config.region == "eu-west-1" and config.sns_topic_arn is None
    local = load_config({"API_URL": "http://h/e"}, {"backend": "local", "lake_root": "/tmp/x/lk"})
    assert local.stream_dir == Path("/tmp/x/stream")


def test_cli_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("API_URL", "WEBLOGS_BACKEND")}
    env["S3_BATCH_SIZE"] = "many"
    for argv in (
        [sys.executable, "-m", "ingestion", "--api-url", "http://127.0.0.1:9/events"],
        [sys.executable, "-m", "weblogs", "consume", "--api-url", "http://127.0.0.1:9/events"],
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
        assert "S3_BATCH_SIZE must be an integer" in proc.stderr
    (tmp_path / "file").write_text("not a folder")
    env.pop("S3_BATCH_SIZE")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingestion",
            "--api-url",
            "http://127.0.0.1:9/events",
            "--backend",
            "local",
            "--lake",
            str(tmp_path / "file" / "lake"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "is not writable" in proc.stderr
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------- pieces


def test_archive_buffer_seals_by_size_then_by_age() -> None:
    now = [100.0]
    buffer = ArchiveBuffer("raw", 3, 10.0, lambda: now[0])
    buffer.extend([b"%d" % i for i in range(7)])
    assert [len(b) for b in buffer.take()] == [3, 3]
    assert len(buffer) == 1
    now[0] += 9.9
    assert list(buffer.take()) == []
    now[0] += 0.2
    assert list(buffer.take()) == [[b"6"]]
    buffer.extend([b"x"])
    assert list(buffer.take(force=True)) == [[b"x"]]
    assert list(buffer.take(force=True)) == []


def test_put_records_chunks_stay_within_kinesis_limits() -> None:
    records = [StreamRecord(b"x" * 1000, "k")] * 1234
    chunks = list(chunk_records(list(range(len(records))), records))
    assert [len(c) for c in chunks] == [500, 500, 234]
    big = [StreamRecord(b"y" * (1024 * 1024 - 10), "key")] * 11
    chunks = list(chunk_records(list(range(11)), big))
    assert all(sum(big[i].size for i in c) <= 5 * 1024 * 1024 for c in chunks)
    assert [len(c) for c in chunks] == [5, 5, 1]


def test_pages_parse_exactly() -> None:
    # A JSON array is split into its elements' texts, kept exactly as sent.
    assert parse_page(b'[{"a": 1}, "x" ,7]') == ([b'{"a": 1}', b'"x"', b"7"], None)
    big = b'{"n": 123456789012345678901234567890}'
    assert parse_page(b"[" + big + b"]") == ([big], None)
    # Pretty-printed elements become one line each (the stream is JSON lines), exactly.
    texts, _ = parse_page(b'[\n  {"n": 123456789012345678901234567890,\r\n "s": "a b"}\n]')
    assert texts == [b'{"n":123456789012345678901234567890,"s":"a b"}']
    assert parse_page(b"<html>") == (None, "invalid_json")
    assert parse_page(b"\xff\xfe") == (None, "invalid_json")
    assert parse_page(b"") == (None, "invalid_json")
    assert parse_page(b'{"events": []}') == (None, "not_a_list")
    # Only the stdlib reads NaN and lone surrogates: decoded whole and spelled again,
    # exactly, so only the elements that carry them fail (see the next test).
    texts, _ = parse_page(b'[{"v": NaN}, {"s": "\\ud800"}, {"n": 123456789012345678901234567890}]')
    assert texts == [b'{"v":NaN}', b'{"s":"\\ud800"}', b'{"n":123456789012345678901234567890}']


def test_raw_elements_get_the_contracts_verdict(tmp_path: Path) -> None:
    """Texts the fast path cannot judge (not UTF-8, not an object, extra fields, odd
    types) are still judged exactly as the contract's validate judges them."""
    consumer = Consumer(
        ConsumerConfig(
            api_url="http://127.0.0.1/events",
            backend="local",
            lake_root=tmp_path / "lake",
            stream_dir=tmp_path / "stream",
            metrics=False,
        ),
        run_id="t",
    )
    ok = '{"session_id": "s", "event_type": "click", "page_url": "/", "timestamp": 1791000000'
    body = (
        "["
        + ",".join(
            [
                ok + "}",
                ok + ', "campaign": {"id": 1}}',
                ok + ', "user_id": 1.5}',
                '"just text"',
                ok.replace("click", "Click") + "}",
            ]
        )
        + "]"
    ).encode()
    texts, _ = parse_page(body)
    assert texts is not None
    texts.append(texts[0].replace(b'"/"', b'"/\xff"'))  # invalid UTF-8 inside one element
    consumer._process_page(texts)
    # A lone surrogate or a NaN stops the split: that page is decoded whole, and only
    # the elements that carry them fail.
    texts, _ = parse_page(f'[{ok}}}, {ok}, "note": "\\ud800"}}, {ok}, "v": NaN}}]'.encode())
    assert texts is not None
    consumer._process_page(texts)
    stats = consumer.stats
    assert stats.polled == 9 and stats.forwarded == 4 and stats.extra_columns == 1
    assert dict(stats.reasons) == {
        "invalid_type:user_id": 1,
        "invalid_json": 3,
        "not_an_object": 1,
    }


# ---------------------------------------------------------------- end to end


def test_local_pipeline_accounts_for_every_event(tmp_path: Path) -> None:
    lake, stream = tmp_path / "lake", tmp_path / "stream"
    summary = run_local_pipeline(lake, stream, events=2500, seed=3, start=START, batch_size=200)
    assert summary["exit_code"] == 0
    assert summary["served"] == summary["polled"] == 2500
    assert summary["polled"] == summary["forwarded"] + summary["failed"] + summary["kinesis_failed"]
    assert summary["failed"] > 20 and summary["extra_columns"] > 50
    sent = stream_lines(stream)
    assert len(sent) == summary["forwarded"]
    assert lines(lake, "raw") == sent  # the raw archive is every forwarded event, in order
    extra = lines(lake, "extra_columns")
    assert len(extra) == summary["extra_columns"] == summary["archived_extra"]
    failed = [json.loads(line) for line in lines(lake, "failed_records")]
    assert len(failed) == summary["failed"]
    assert all(f["stage"] == "api_consumer" and f["reason"] and f["payload"] for f in failed)
    assert {f["reason"] for f in failed} >= {"not_an_object", "unknown_event_type"}
    assert all(len(orjson.loads(line)) >= 4 for line in lines(lake, "raw"))
    assert max(len(lines_) for lines_ in _objects(lake, "raw")) == 200  # S3_BATCH_SIZE
    assert (lake / "crm" / "customers.csv").exists() and (lake / "crm" / "ratings.csv").exists()
    # The transformation reads the local stream: nothing is lost on the way either.
    proc = subprocess.run(
        [sys.executable, "-m", "weblogs", "transform", "--input", str(stream), "--lake", str(lake)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{summary['forwarded']} records in" in proc.stdout + proc.stderr
    assert list((lake / "events").rglob("*.parquet"))


def _objects(lake: Path, prefix: str) -> list[list[bytes]]:
    return [p.read_bytes().splitlines() for p in sorted((lake / prefix).rglob("*.jsonl"))]


def test_api_outages_and_garbage_never_stop_the_consumer(
    tmp_path: Path, run_in_thread: Any
) -> None:
    gen = TrafficGenerator(8, start=START, malformed_rate=0, duplicate_rate=0)
    with SimulatorServer(gen, max_events=900, retry_after=0) as server:
        server.inject(
            "503",
            "429",
            "reset",
            "500",
            "garbage",
            "not_a_list",
            "truncated",
            "empty",
            "binary",
        )
        consumer = Consumer(local_config(tmp_path, server.url, page_limit=100))
        result = run_in_thread(consumer)
        wait_for(lambda: consumer.stats.polled == 900)
        consumer.request_stop("test")
        wait_for(lambda: "code" in result)
    assert result["code"] == 0
    stats = consumer.stats
    assert stats.polled == stats.forwarded == len(stream_lines(tmp_path / "stream")) == 900
    # urllib3 retried 503, 429 and the reset; the 500 exhausted the budget of 3 and was
    # logged as an API error, then the next poll went on.
    assert stats.api_retries == 3 and stats.api_errors == 1
    assert stats.bad_responses == 5
    failed = [json.loads(line) for line in lines(tmp_path / "lake", "failed_records")]
    assert sorted(f["reason"] for f in failed) == [
        "invalid_json",
        "invalid_json",
        "invalid_json",
        "invalid_json",
        "not_a_list",
    ]
    assert all(f["stage"] == "api_response" and f["http_status"] == 200 for f in failed)
    binary = [f for f in failed if f["payload_encoding"] == "base64"]
    assert len(binary) == 1 and base64.b64decode(binary[0]["payload"]).startswith(b"\xff\xfe")
    bodies = {payload_bytes(f) for f in failed}
    assert b"<html><body>Service temporarily unavailable</body></html>" in bodies
    assert b"" in bodies
    assert stats.notifications == 5  # one per stored batch


def test_retry_after_is_honoured(tmp_path: Path, run_in_thread: Any) -> None:
    with SimulatorServer(TrafficGenerator(2, start=START), max_events=50, retry_after=1) as server:
        server.inject("429")
        consumer = Consumer(local_config(tmp_path, server.url))
        result = run_in_thread(consumer)
        wait_for(lambda: consumer.stats.polled == 50)
        consumer.request_stop()
        wait_for(lambda: "code" in result)
        assert server.request_times[1] - server.request_times[0] >= 0.95


def test_api_down_is_logged_and_retried_until_stopped(tmp_path: Path, run_in_thread: Any) -> None:
    server = SimulatorServer(TrafficGenerator(1))
    url = server.url
    server.httpd.server_close()  # nothing listens there any more
    consumer = Consumer(local_config(tmp_path, url, api_max_retries=1, poll_interval=0.01))
    result = run_in_thread(consumer)
    wait_for(lambda: consumer.stats.api_errors >= 2)
    consumer.request_stop("test")
    wait_for(lambda: "code" in result, timeout=10)
    assert result["code"] == 0 and consumer.stats.polled == 0


def test_bad_elements_fail_alone(tmp_path: Path, run_in_thread: Any) -> None:
    """Elements the stdlib accepts but JSON forbids (NaN) fail one by one, not the page."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    good = TrafficGenerator(4, start=START, malformed_rate=0, duplicate_rate=0).events(3)
    body = (
        b'[{"session_id": "s", "event_type": "click", "page_url": "/", "timestamp": 1767600000,'
        b' "score": NaN}, ' + b", ".join(json.dumps(e).encode() for e in good) + b', "text", '
        b'{"session_id": "s", "event_type": "click", "page_url": "/\\ud800", "timestamp": 1}]'
    )

    class Handler(BaseHTTPRequestHandler):
        served = False

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            data = body if not Handler.served else b"[]"
            Handler.served = True
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/events"
        consumer = Consumer(local_config(tmp_path, url))
        result = run_in_thread(consumer)
        wait_for(lambda: consumer.stats.polled == 6)
        consumer.request_stop()
        wait_for(lambda: "code" in result)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert consumer.stats.forwarded == 3
    reasons = sorted(json.loads(x)["reason"] for x in lines(tmp_path / "lake", "failed_records"))
    assert reasons == ["invalid_json", "invalid_json", "not_an_object"]  # NaN, lone surrogate


def test_batching_by_size_and_by_age(tmp_path: Path, run_in_thread: Any) -> None:
    gen = TrafficGenerator(6, start=START, malformed_rate=0, duplicate_rate=0)
    with SimulatorServer(gen, max_events=250) as server:
        consumer = Consumer(
            local_config(tmp_path, server.url, s3_batch_size=100, s3_batch_seconds=2.5)
        )
        result = run_in_thread(consumer)
        wait_for(lambda: consumer.stats.polled == 250)
        sealed = time.monotonic()
        raw = tmp_path / "lake" / "raw"
        wait_for(lambda: len(_objects(tmp_path / "lake", "raw")) == 2)
        assert [len(o) for o in _objects(tmp_path / "lake", "raw")] == [100, 100]  # by size
        wait_for(lambda: len(list(raw.rglob("*.jsonl"))) == 3, timeout=10)
        assert time.monotonic() - sealed >= 1.5  # the rest waited for its age
        assert sorted(len(o) for o in _objects(tmp_path / "lake", "raw")) == [50, 100, 100]
        assert not consumer.stop_event.is_set()  # flushed by age, not by stopping
        consumer.request_stop()
        wait_for(lambda: "code" in result)
    assert result["code"] == 0
    keys = consumer.keys_written
    assert len(keys) == len(set(keys)) and all(k.endswith(".jsonl") for k in keys)


class FlakyLake(LocalLake):
    """A lake whose first `failures` puts fail, like S3 during an outage."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures
        self.attempts = 0

    def put(self, key: str, data: bytes) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise OSError("service unavailable")
        super().put(key, data)


def test_lake_outage_pauses_polling_and_loses_nothing(tmp_path: Path, run_in_thread: Any) -> None:
    gen = TrafficGenerator(12, start=START)
    with SimulatorServer(gen, max_events=1000) as server:
        config = local_config(tmp_path, server.url, page_limit=200)
        lake = FlakyLake(tmp_path / "lake", failures=3)
        backends = Backends(
            LocalStream(tmp_path / "stream", "run"), lake, LogNotifier(), "flaky lake"
        )
        consumer = Consumer(config, backends)
        result = run_in_thread(consumer)
        # The first page's failed records cannot be written: no second page is asked for.
        wait_for(lambda: lake.attempts >= 2)
        assert consumer.stats.pages == 1 and server.requests == 1
        wait_for(lambda: consumer.stats.polled == 1000, timeout=30)
        consumer.request_stop()
        wait_for(lambda: "code" in result)
    assert result["code"] == 0
    stats = consumer.stats
    assert stats.s3_errors == 3 and not consumer.pending
    assert stats.polled == stats.forwarded + stats.failed == 1000
    failed = lines(tmp_path / "lake", "failed_records")
    assert len(failed) == stats.failed == len(set(failed))
    assert lines(tmp_path / "lake", "raw") == stream_lines(tmp_path / "stream")


def test_unwritable_lake_at_shutdown_logs_every_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SimulatorServer(TrafficGenerator(12, start=START), max_events=300) as server:
        config = local_config(tmp_path, server.url, max_events=300, shutdown_seconds=1)
        lake = FlakyLake(tmp_path / "lake", failures=10**6)
        backends = Backends(LocalStream(tmp_path / "stream", "run"), lake, LogNotifier(), "down")
        consumer = Consumer(config, backends)
        consumer._write_retry_at = 0.0
        code = consumer.run()
    assert code == 1
    unflushed = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("UNFLUSHED")
    ]
    stats = consumer.stats
    # Every event of the one page is in the log: raw copies and failed records.
    assert len(unflushed) == stats.forwarded + stats.extra_columns + stats.failed
    assert stats.polled == 300 and stats.pages == 1


def test_the_two_commands_against_each_other(tmp_path: Path) -> None:
    """`weblogs simulate-api` and `weblogs consume` as separate processes on loopback."""
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weblogs",
            "simulate-api",
            "--port",
            "0",
            "--seed",
            "4",
            "--start",
            START.isoformat(),
            "--max-events",
            "1200",
            "--rate",
            "2000",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert sim.stdout is not None
        url = sim.stdout.readline().split("serving ")[1].split("?")[0]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "S3_"))}
        consume = subprocess.run(
            [
                sys.executable,
                "-m",
                "weblogs",
                "consume",
                "--api-url",
                url,
                "--backend",
                "local",
                "--lake",
                str(tmp_path / "lake"),
                "--stream-dir",
                str(tmp_path / "stream"),
                "--max-events",
                "1200",
                "--poll-interval",
                "0.05",
                "--no-metrics",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )
    finally:
        sim.terminate()
        out, _ = sim.communicate(timeout=10)
    assert consume.returncode == 0, consume.stderr
    assert consume.stdout == ""  # --no-metrics: nothing on stdout
    summary = json.loads(consume.stderr.split("summary ", 1)[1])
    assert "stopped after serving 1200 events" in out
    assert summary["polled"] == 1200 == summary["forwarded"] + summary["failed"]
    assert len(stream_lines(tmp_path / "stream")) == summary["forwarded"]
    assert len(lines(tmp_path / "lake", "failed_records")) == summary["failed"]
    assert len(lines(tmp_path / "lake", "raw")) == summary["forwarded"]


class BrokenNotifier:
    def notify(self, subject: str, message: str) -> None:
        raise ConnectionError("SNS unreachable")


def test_a_lost_notification_never_loses_records(tmp_path: Path, run_in_thread: Any) -> None:
    with SimulatorServer(TrafficGenerator(3, start=START), max_events=600) as server:
        config = local_config(tmp_path, server.url, page_limit=200)
        backends = Backends(
            LocalStream(tmp_path / "stream", "run"),
            LocalLake(tmp_path / "lake"),
            BrokenNotifier(),
            "no sns",
        )
        consumer = Consumer(config, backends)
        result = run_in_thread(consumer)
        wait_for(lambda: consumer.stats.polled == 600)
        consumer.request_stop()
        wait_for(lambda: "code" in result)
    stats = consumer.stats
    assert result["code"] == 0 and stats.notifications == 0
    assert stats.notification_errors == len(_objects(tmp_path / "lake", "failed_records")) == 3
    assert len(lines(tmp_path / "lake", "failed_records")) == stats.failed > 0


def test_random_faults_all_along(tmp_path: Path, run_in_thread: Any) -> None:
    """Two API answers in five are faults of every kind; the accounting still holds."""
    gen = TrafficGenerator(17, start=START)
    with SimulatorServer(gen, max_events=2000, fault_rate=0.4, retry_after=0) as server:
        consumer = Consumer(local_config(tmp_path, server.url, page_limit=50))
        result = run_in_thread(consumer)
        wait_for(lambda: consumer.stats.polled == 2000, timeout=60)
        consumer.request_stop()
        wait_for(lambda: "code" in result)
        faults = Counter(server.faults_served)
    stats = consumer.stats
    assert result["code"] == 0 and len(faults) >= 8, faults
    garbage = sum(faults[f] for f in ("garbage", "not_a_list", "truncated", "empty", "binary"))
    assert stats.bad_responses == garbage > 0
    assert stats.polled == stats.forwarded + stats.failed == 2000
    assert len(stream_lines(tmp_path / "stream")) == stats.forwarded
    failed = lines(tmp_path / "lake", "failed_records")
    assert len(failed) == stats.failed + stats.bad_responses
