"""Measure the consumer against a hostile API: peak memory and time to stop.

    .venv/bin/python bench/hostile.py

Runs `python -m ingestion` (local backend) as a child process against the hostile
server of the tests (tests/python/support/hostile_server.py) on loopback, once per case:

- memory: the gzip bomb (408 KB inflating to 419 MB) and a 100 MB page, next to a
  plain good page as the baseline; the child's peak RSS is its own `VmHWM`, read
  until it exits (SIGTERM once the refused response is in the failed store).
- stop: one good page, then a dripping, endless or stalled body; SIGTERM in the middle
  of that read; the time to exit, the exit code and the raw lines flushed.

Limits are the defaults (32 MiB per response, 60 s per response). The tests assert
the same bounds (< 300 MB, < 10 s, exit 0); this prints the figures.

Then the storage figures of bench/hostile_storage.py: `weblogs transform`'s peak RSS on
300 MB of ~1 MiB events, and compaction's throughput with and without the hour lease.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python" / "support"))
sys.path.insert(0, str(ROOT / "tests" / "python" / "ingestion"))

import hostile_storage  # noqa: E402 (bench/, beside this file)
import results  # noqa: E402
from hostile_server import HostileServer, bomb_body, wait_until  # noqa: E402
from test_hostile_consumer import peak_rss_kb  # noqa: E402


def start(lake: Path, url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "S3_", "AWS_"))}
    env.update({"API_MAX_RETRIES": "0", "POLL_INTERVAL": "0.1", "API_TIMEOUT": "30"})
    env.update({"S3_BATCH_SIZE": "100000", "S3_BATCH_SECONDS": "3600"})
    argv = [sys.executable, "-m", "ingestion", "--api-url", url, "--backend", "local"]
    argv += ["--lake", str(lake / "lake"), "--stream-dir", str(lake / "stream"), "--no-metrics"]
    return subprocess.Popen(argv, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, int, float]:
    """(exit code, peak RSS KiB, seconds to exit) after SIGTERM."""
    peak = peak_rss_kb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    while proc.poll() is None:
        peak = max(peak, peak_rss_kb(proc.pid))
        time.sleep(0.02)
    return proc.returncode, peak, time.monotonic() - started


def lines(folder: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in folder.rglob("*.jsonl"))


def main() -> int:
    bomb_body()
    with HostileServer() as server, tempfile.TemporaryDirectory() as tmp:
        print("memory: peak RSS of the consumer process (KiB)")
        baseline = 0
        figures: list[tuple[str, object]] = []
        for path in ("/good", "/bomb", "/big"):
            work = Path(tmp) / path.strip("/")
            proc = start(work, server.url(path))
            if path == "/good":
                wait_until(lambda w=work: lines(w / "stream") >= 50, 60)
            else:
                wait_until(lambda w=work: lines(w / "lake" / "failed_records") >= 1, 120)
            code, peak, _ = stop(proc)
            baseline = baseline or peak
            print(
                f"  {path:8} peak {peak:>8} KiB  ({peak / baseline:.2f}x the good page)  exit {code}"
            )
            figures.append(
                (
                    f"{path}: peak RSS KiB (x the good page), exit",
                    f"{peak:,} ({peak / baseline:.2f}x), {code}",
                )
            )
        print("stop: SIGTERM during a hostile read, after one good page")
        for after in ("drip", "endless", "stall"):
            work = Path(tmp) / after
            path = f"/good-then-{after}"
            proc = start(work, server.url(path))
            wait_until(lambda w=work: lines(w / "stream") >= 10, 60)
            wait_until(lambda p=path: server.requests.count(p) >= 2, 30)
            time.sleep(1.5)
            code, _, took = stop(proc)
            flushed = lines(work / "lake" / "raw")
            print(f"  {after:8} exit {code} in {took:.2f}s, raw lines flushed {flushed}/10")
            figures.append(
                (
                    f"SIGTERM during {after}: exit, seconds, raw lines flushed",
                    f"{code}, {took:.2f}, {flushed}/10",
                )
            )
    results.record("bench/hostile.py", figures)
    print("storage: transform's memory on big events, compaction with and without the lease")
    hostile_storage.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
