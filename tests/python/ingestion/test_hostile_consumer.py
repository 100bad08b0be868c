"""The API consumer against a hostile API on loopback: bounded in size, time and memory.

In-thread tests check the verdicts (limits set low so they are quick); subprocess
tests check what only a process shows: peak RSS (its own `VmHWM`) and SIGTERM during a
stalled read.
"""

from __future__ import annotations

import os
import signal
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
from hostile_server import HostileServer, bomb_body, gunzip_size, wait_until

from ingestion.config import ConsumerConfig, load_config
from ingestion.consumer import Consumer

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
RSS_LIMIT_KB = 300 * 1024


def jsonl(root: Path, prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((root / prefix).rglob("*.jsonl")):
        out.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
    return out


def stream(root: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted(root.glob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def config(tmp_path: Path, url: str, **overrides: Any) -> ConsumerConfig:
    values: dict[str, Any] = {
        "api_url": url,
        "backend": "local",
        "lake_root": tmp_path / "lake",
        "stream_dir": tmp_path / "stream",
        "poll_interval": 0.05,
        "metrics": False,
        "progress_seconds": 3600,
        "api_max_retries": 0,
        "api_backoff": 0.05,
        "http_timeout": 5.0,
        "api_response_seconds": 2.0,
        "api_max_response_bytes": 1 << 20,
        "api_max_compressed_bytes": 1 << 20,
        "response_sample_bytes": 4096,
    }
    values.update(overrides)
    return ConsumerConfig(**values)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def run_until(consumer: Consumer, condition: Any, timeout: float = 30.0) -> int:
    """Run the consumer in a thread until `condition()`, then stop it; its exit code."""
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", consumer.run()))
    thread.start()
    try:
        met = wait_until(condition, timeout)
    finally:
        consumer.request_stop("test over")
        thread.join(timeout=30)
    assert not thread.is_alive(), "the consumer did not stop"
    assert met, "condition not met in time"
    return result["code"]


# ------------------------------------------------------------------- isolation


def test_a_poison_timestamp_in_a_page_fails_alone(tmp_path: Path, hostile: HostileServer) -> None:
    consumer = Consumer(config(tmp_path, hostile.url("/poison")), clock=lambda: NOW)
    code = run_until(consumer, lambda: consumer.stats.pages >= 1)
    assert code == 0
    assert consumer.stats.forwarded == 10 * consumer.stats.pages
    failed = jsonl(tmp_path / "lake", "failed_records")
    assert [f["reason"] for f in failed] == ["invalid_timestamp"] * consumer.stats.pages
    assert orjson.loads(failed[0]["payload"])["event_id"] == "h-99"
    assert len(stream(tmp_path / "stream")) == consumer.stats.forwarded


# ---------------------------------------------------------------- size and time


@pytest.mark.parametrize("path", ["/endless", "/drip"])
def test_an_endless_or_dripping_body_times_out(
    tmp_path: Path, hostile: HostileServer, path: str
) -> None:
    limits = {"api_max_response_bytes": 64 << 20, "api_max_compressed_bytes": 64 << 20}
    consumer = Consumer(config(tmp_path, hostile.url(path), **limits), clock=lambda: NOW)
    started = time.monotonic()
    run_until(consumer, lambda: consumer.stats.bad_responses >= 1, timeout=20)
    assert time.monotonic() - started < 15
    [failed] = jsonl(tmp_path / "lake", "failed_records")[:1]
    assert failed["reason"] == "response_timeout"
    assert failed["stage"] == "api_response"
    assert len(failed["payload"]) <= 4096 * 2  # a bounded sample (base64 at worst)
    assert failed["bytes_read"] >= len(failed["payload"]) or path == "/drip"
    assert consumer.stats.polled == 0


def test_a_large_page_is_refused_with_a_bounded_sample(
    tmp_path: Path, hostile: HostileServer
) -> None:
    consumer = Consumer(config(tmp_path, hostile.url("/big")), clock=lambda: NOW)
    run_until(consumer, lambda: consumer.stats.bad_responses >= 1)
    failed = jsonl(tmp_path / "lake", "failed_records")[0]
    assert failed["reason"] == "response_too_large"
    assert len(failed["payload"]) <= 4096
    assert failed["bytes_read"] > 1 << 20
    assert failed["limit_bytes"] == 1 << 20


def test_a_gzip_bomb_is_refused_before_it_inflates(tmp_path: Path, hostile: HostileServer) -> None:
    bomb_body()  # built before the clock starts (the first build takes seconds)
    consumer = Consumer(config(tmp_path, hostile.url("/bomb")), clock=lambda: NOW)
    run_until(consumer, lambda: consumer.stats.bad_responses >= 1)
    failed = jsonl(tmp_path / "lake", "failed_records")[0]
    assert failed["reason"] == "response_too_large"
    assert failed["content_encoding"] == "gzip"
    assert len(failed["payload"]) <= 4096 * 2


def test_the_bomb_fixture_is_a_bomb() -> None:
    body = bomb_body()
    assert 380_000 < len(body) < 440_000
    assert gunzip_size(body) > 400 * 1024 * 1024


# --------------------------------------------------------------------- redirects


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path, hostile: HostileServer) -> None:
    consumer = Consumer(config(tmp_path, hostile.url("/redirect-away")), clock=lambda: NOW)
    run_until(consumer, lambda: consumer.stats.api_errors >= 2)
    assert "/good" not in hostile.requests
    assert consumer.stats.polled == 0


def test_a_redirect_on_the_same_host_is_followed(tmp_path: Path, hostile: HostileServer) -> None:
    consumer = Consumer(config(tmp_path, hostile.url("/redirect-home")), clock=lambda: NOW)
    run_until(consumer, lambda: consumer.stats.forwarded >= 10)
    assert "/good" in hostile.requests


# -------------------------------------------------------------------- settings


def test_the_limits_are_settings_with_clear_errors() -> None:
    base = {"API_URL": "http://h/e", "WEBLOGS_BACKEND": "local"}
    loaded = load_config(
        {
            **base,
            "API_MAX_RESPONSE_BYTES": "2048",
            "API_MAX_COMPRESSED_BYTES": "1024",
            "API_RESPONSE_SECONDS": "3",
            "RESPONSE_SAMPLE_BYTES": "512",
            "API_MAX_REDIRECTS": "0",
        }
    )
    assert loaded.api_max_response_bytes == 2048 and loaded.api_max_compressed_bytes == 1024
    assert loaded.api_response_seconds == 3 and loaded.response_sample_bytes == 512
    assert loaded.api_max_redirects == 0
    defaults = load_config(base)
    assert defaults.api_max_response_bytes <= 64 << 20
    assert defaults.api_response_seconds <= 300
    from ingestion.config import ConfigError

    for name in ("API_MAX_RESPONSE_BYTES", "API_RESPONSE_SECONDS", "RESPONSE_SAMPLE_BYTES"):
        with pytest.raises(ConfigError, match=name):
            load_config({**base, name: "-1"})


# ------------------------------------------------------------- real processes


def consume_process(
    tmp_path: Path, url: str, *extra_env: tuple[str, str], metrics: bool = False
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "S3_", "AWS_"))}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "API_MAX_RETRIES": "0",
            "API_BACKOFF": "0.05",
            "POLL_INTERVAL": "0.1",
            "S3_BATCH_SIZE": "100000",
            "S3_BATCH_SECONDS": "3600",
            "API_RESPONSE_SECONDS": "600",
            "API_TIMEOUT": "30",
        }
    )
    env.update(dict(extra_env))
    argv = [
        sys.executable,
        "-m",
        "ingestion",
        "--api-url",
        url,
        "--backend",
        "local",
        "--lake",
        str(tmp_path / "lake"),
        "--stream-dir",
        str(tmp_path / "stream"),
    ]
    if not metrics:
        argv.append("--no-metrics")
    return subprocess.Popen(
        argv,
        env=env,
        cwd=REPO,
        stdout=open(tmp_path / "stdout", "wb"),
        stderr=open(tmp_path / "stderr", "wb"),
    )


def peak_rss_kb(pid: int) -> int:
    """The process's own high-water RSS (`VmHWM`), 0 once it is gone.

    Not `ru_maxrss` from `wait4`: Linux carries the forking parent's high-water mark
    over the exec, so a child of a big pytest process would report the parent's.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reap(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, int]:
    """(exit code, peak RSS in KiB) of a child, killing it after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    peak = 0
    while time.monotonic() < deadline:
        peak = max(peak, peak_rss_kb(proc.pid))
        if proc.poll() is not None:
            return proc.returncode, peak
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise AssertionError(f"still running after {timeout}s (peak {peak} KiB)")


@pytest.mark.parametrize("path", ["/bomb", "/big"])
def test_peak_memory_stays_bounded(tmp_path: Path, hostile: HostileServer, path: str) -> None:
    proc = consume_process(tmp_path, hostile.url(path))
    peak = [0]

    def refused() -> bool:
        peak[0] = max(peak[0], peak_rss_kb(proc.pid))
        return bool(jsonl(tmp_path / "lake", "failed_records"))

    try:
        seen = wait_until(refused, 120)
    finally:
        proc.send_signal(signal.SIGTERM)
        code, peak_kb = reap(proc, 30)
    peak_kb = max(peak_kb, peak[0])
    stderr = (tmp_path / "stderr").read_text()
    assert seen, stderr[-2000:]
    assert code == 0, stderr[-2000:]
    assert 0 < peak_kb < RSS_LIMIT_KB, f"peak RSS {peak_kb} KiB"
    failed = jsonl(tmp_path / "lake", "failed_records")
    assert {f["reason"] for f in failed} == {"response_too_large"}
    assert "Traceback" not in stderr


@pytest.mark.parametrize("after", ["drip", "endless", "stall"])
def test_sigterm_during_a_stalled_read_flushes_and_exits_0(
    tmp_path: Path, hostile: HostileServer, after: str
) -> None:
    proc = consume_process(tmp_path, hostile.url(f"/good-then-{after}"))
    try:
        # The good page is in the stream; its raw copies wait in the archive buffer.
        assert wait_until(lambda: len(stream(tmp_path / "stream")) >= 10, 60)
        assert wait_until(lambda: hostile.requests.count(f"/good-then-{after}") >= 2, 30)
        time.sleep(1.5)  # well inside the stalled read
        assert not (tmp_path / "lake" / "raw").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code, _ = reap(proc, 30)
    took = time.monotonic() - started
    stderr = (tmp_path / "stderr").read_text()
    assert code == 0, stderr[-2000:]
    assert took < 10, f"took {took:.1f}s to stop"
    assert len(jsonl(tmp_path / "lake", "raw")) == 10
    assert "Traceback" not in stderr


def test_stats_add_up_after_every_hostile_page(tmp_path: Path, hostile: HostileServer) -> None:
    """A mixed run: every response ends forwarded, failed or as a kept bad response."""
    reasons: Counter[str] = Counter()
    for path in ("/poison", "/drip", "/big", "/bomb", "/good"):
        consumer = Consumer(
            config(tmp_path / path.strip("/"), hostile.url(path)), clock=lambda: NOW
        )
        run_until(consumer, lambda c=consumer: c.stats.pages + c.stats.bad_responses >= 1)
        s = consumer.stats
        assert s.polled == s.forwarded + s.failed + s.kinesis_failed
        reasons.update(s.reasons)
    assert reasons["response:response_timeout"] >= 1
    assert reasons["response:response_too_large"] >= 2
