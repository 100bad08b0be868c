"""`SimulatorServer`: the generator served over HTTP, with fault injection.

`GET /events?limit=N` returns a JSON array, so the consumer's retry and garbage
handling can be tested over a real socket.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from weblogs.simulator.generator import TrafficGenerator

FAULTS = (
    "500",
    "502",
    "503",
    "504",
    "429",
    "garbage",
    "not_a_list",
    "truncated",
    "empty",
    "binary",
    "reset",
    "slow",
)
#: What --fault-rate draws from: everything but `slow`, which would only stall a run.
RANDOM_FAULTS = tuple(f for f in FAULTS if f != "slow")
MAX_LIMIT = 10_000


class SimulatorServer:
    """`GET /events?limit=N` over loopback, with a rate limit and injectable faults.

    Faults never consume events: the next good response continues the sequence, so a
    consumer that retries loses nothing. `served` counts events in good responses.
    """

    def __init__(
        self,
        generator: TrafficGenerator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 0.0,
        max_events: int | None = None,
        fault_rate: float = 0.0,
        retry_after: float = 1.0,
        slow_seconds: float = 5.0,
    ) -> None:
        self.generator = generator
        self.rate = rate
        self.max_events = max_events
        self.fault_rate = fault_rate
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.served = 0
        self.requests = 0
        self.faults_served: list[str] = []
        self.request_times: list[float] = []  # monotonic time of each /events request
        self._faults: deque[str] = deque()
        self._fault_rng = random.Random(f"weblogs-sim:{generator.seed}:faults")
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self.httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}/events"

    def inject(self, *faults: str) -> None:
        """Queue faults for the next requests to /events, in order."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend(faults)

    def start(self) -> SimulatorServer:
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="simulate-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_fault(self, requested: str | None) -> str | None:
        with self._lock:
            self.requests += 1
            self.request_times.append(time.monotonic())
            fault = requested
            if fault is None and self._faults:
                fault = self._faults.popleft()
            if fault is None and self.fault_rate and self._fault_rng.random() < self.fault_rate:
                fault = self._fault_rng.choice(RANDOM_FAULTS)
            if fault is not None:
                self.faults_served.append(fault)
            return fault

    def take(self, limit: int) -> list[object]:
        """The next page: at most `limit`, within the rate budget and `max_events`."""
        with self._lock:
            allowed = limit
            if self.rate > 0:
                budget = int(self.rate * (time.monotonic() - self._started + 1.0))
                allowed = min(allowed, max(0, budget - self.served))
            if self.max_events is not None:
                allowed = min(allowed, max(0, self.max_events - self.served))
            items = self.generator.events(allowed)
            self.served += len(items)
            return items


class _Handler(BaseHTTPRequestHandler):
    """GET /events and /health for one `SimulatorServer` (set as `sim` by `_make_handler`)."""

    sim: SimulatorServer

    protocol_version = "HTTP/1.1"
    server_version = "weblogs-simulate-api/1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a consumer polling every second would flood the terminal."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"error": message}).encode(), headers)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/health":
            self._send(200, json.dumps({"status": "ok", "served": self.sim.served}).encode())
            return
        if parts.path != "/events":
            self._error(404, "not found; try GET /events?limit=N")
            return
        raw_limit = query.get("limit", ["100"])[0]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            self._error(400, f"limit must be an integer between 1 and {MAX_LIMIT}")
            return
        requested = query.get("fault", [None])[0]
        if requested is not None and requested not in FAULTS:
            self._error(400, f"unknown fault; known: {', '.join(FAULTS)}")
            return
        fault = self.sim.next_fault(requested)
        if fault is not None and self._fault(fault):
            return
        items = self.sim.take(int(raw_limit))
        self._send(200, json.dumps(items, ensure_ascii=False).encode("utf-8"))

    def _fault(self, fault: str) -> bool:
        """Answer with the fault; False means 'then answer normally' (slow)."""
        retry_after = {"Retry-After": f"{self.sim.retry_after:g}"}
        if fault in ("500", "502", "504"):
            self._error(int(fault), "upstream trouble")
        elif fault in ("503", "429"):
            self._error(int(fault), "slow down", retry_after)
        elif fault == "garbage":
            self._send(200, b"<html><body>Service temporarily unavailable</body></html>")
        elif fault == "not_a_list":
            self._send(200, b'{"events": "maintenance", "ok": false}')
        elif fault == "truncated":
            self._send(200, b'[{"session_id": "s-1", "event_type": "page_v')
        elif fault == "empty":
            self._send(200, b"")
        elif fault == "binary":
            self._send(200, b"\xff\xfe\x00\x81garbage\x00")
        elif fault == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
        elif fault == "slow":
            time.sleep(self.sim.slow_seconds)
            return False
        return True


def _make_handler(server: SimulatorServer) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"sim": server})


# ------------------------------------------------------------------------------ CLI
