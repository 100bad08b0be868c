"""The simulator and the real consumer on this machine, for `weblogs demo` and tests.

No AWS: the consumer's local backend writes the lake's raw/, extra_columns/ and
failed stores under `lake_root` and the "Kinesis" stream as JSON-lines files in
`stream_dir`, which `weblogs transform --input stream_dir` reads next.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingestion.config import ConsumerConfig
from ingestion.consumer import Consumer
from weblogs.core import clock, layout
from weblogs.simulator import SESSION_ARRIVAL_MEAN_S, SimulatorServer, TrafficGenerator

#: Rough events per second of simulated time (sessions average ~8 events).
_SIMULATED_EVENTS_PER_SECOND = 8 / SESSION_ARRIVAL_MEAN_S


def default_start(events: int, now: datetime | None = None) -> datetime:
    """A start that makes the simulated traffic end around `now`, on a whole minute."""
    now = now or clock.now(os.environ)
    span = timedelta(seconds=events / _SIMULATED_EVENTS_PER_SECOND)
    return (now - span - timedelta(minutes=5)).replace(second=0, microsecond=0)


def run_local_pipeline(
    lake_root: Path,
    stream_dir: Path,
    *,
    events: int,
    seed: int = 7,
    start: datetime | None = None,
    batch_size: int = 100,
    batch_seconds: float = 10.0,
) -> dict[str, Any]:
    """Serve `events` simulated events on loopback, consume them with the local backend.

    Writes the CRM files to `lake_root/crm/`; stops the consumer the way SIGTERM does
    (finish the page, flush every buffer) and returns its accounting, where
    polled == forwarded + failed + kinesis_failed.
    """
    if events < 1:
        raise ValueError(f"events must be at least 1, got {events}")
    lake_root, stream_dir = Path(lake_root), Path(stream_dir)
    generator = TrafficGenerator(seed, start=start or default_start(events))
    generator.write_crm(lake_root / layout.CRM)
    with SimulatorServer(generator, host="127.0.0.1", port=0) as server:
        config = ConsumerConfig(
            api_url=server.url,
            backend="local",
            lake_root=lake_root,
            stream_dir=stream_dir,
            poll_interval=0.05,
            s3_batch_size=batch_size,
            s3_batch_seconds=batch_seconds,
            page_limit=500,
            metrics=False,
            max_events=events,
            progress_seconds=3600,
        )
        consumer = Consumer(config)
        exit_code = _run_until_done(consumer, timeout=max(60.0, events / 200))
        served = server.served
    summary = consumer.stats.as_dict()
    summary.update(
        served=served,
        exit_code=exit_code,
        run_id=consumer.run_id,
        lake_root=str(lake_root),
        stream_dir=str(stream_dir),
        start=generator.start.isoformat(),
        objects_written=len(consumer.keys_written),
    )
    return summary


def _run_until_done(consumer: Consumer, *, timeout: float) -> int:
    """Run the consumer in its own thread (so this works from any thread) until its
    max-events stop, the same path as SIGTERM (finish, flush, return); 1 if it hangs."""
    result: dict[str, int] = {}

    def run() -> None:
        result["exit_code"] = consumer.run()

    thread = threading.Thread(target=run, name="consume", daemon=True)
    thread.start()
    thread.join(timeout=timeout)
    if thread.is_alive():
        consumer.request_stop("timeout")
        thread.join(timeout=120)
    return result.get("exit_code", 1)
