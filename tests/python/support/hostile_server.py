"""A hostile web-traffic API on loopback: what an attacker or a broken upstream sends.

Paths (the query string is ignored, so a planted `?api_key=...` is harmless):

- `/endless`: a chunked JSON array that never ends (about 2 MB/s).
- `/drip`: a body that arrives one byte a second, forever.
- `/stall`: headers, then nothing (the connection stays open).
- `/bomb`: a gzip body of ~408 KB that inflates to ~419 MB of JSON white space.
- `/big`: a valid JSON array of events, about 100 MB, with its Content-Length.
- `/redirect-away`: 302 to the same port on another host name (`localhost`).
- `/redirect-home`: 302 to `/good` on the same host.
- `/good`: a small page of valid events.
- `/echo-error`: HTTP 500 whose body repeats the request line (query included).
- `/poison`: a page of valid events with a 4,400-digit timestamp in the middle.
- `/good-then-X` (X: drip, endless, stall): one good page, then X on every later request.

Every handler stops writing when the client goes away or the server stops.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import threading
import time
import zlib
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

T0 = 1_791_000_000  # 2026-10-03T04:00:00Z, inside the fixtures' valid range
BOMB_INFLATED = 419 * 1024 * 1024
BIG_BYTES = 100 * 1024 * 1024


def event(i: int, **overrides: Any) -> dict[str, Any]:
    """A valid event (the fixtures' clock is later than T0)."""
    item: dict[str, Any] = {
        "event_id": f"h-{i}",
        "session_id": f"s-{i // 5}",
        "event_type": "page_view",
        "page_url": f"/page/{i % 7}",
        "timestamp": T0 + i,
    }
    item.update(overrides)
    return item


@cache
def bomb_body() -> bytes:
    """gzip of `[` + ~419 MB of spaces + `]`: built in 1 MiB steps, never whole in memory."""
    out = io.BytesIO()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out.write(compressor.compress(b"["))
    block = b" " * (1024 * 1024)
    for _ in range(BOMB_INFLATED // len(block)):
        out.write(compressor.compress(block))
    out.write(compressor.compress(b"]"))
    out.write(compressor.flush())
    return out.getvalue()


def big_page_chunks(total: int = BIG_BYTES) -> Iterator[bytes]:
    """A JSON array of padded valid events, `total` bytes exactly."""
    pad = "x" * 900
    yield b"["
    sent = 1
    i = 0
    while True:
        text = orjson.dumps(event(i, padding=pad))
        if sent + len(text) + 2 > total:
            break
        yield (b"," if i else b"") + text
        sent += len(text) + (1 if i else 0)
        i += 1
    yield b" " * (total - sent - 1) + b"]"


class HostileServer:
    """The server; `url(path)` gives an address on 127.0.0.1, `requests` what it saw."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up on a hostile answer is the expected case: no traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _handler(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _headers(self, status: int, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server.requests.append(path)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                getattr(self, "_" + path.strip("/").replace("-", "_"), self._missing)()

        def _missing(self) -> None:
            self._headers(404, {"Content-Length": "0"})

        def _good(self) -> None:
            body = orjson.dumps([event(i) for i in range(10)])
            self._headers(
                200, {"Content-Type": "application/json", "Content-Length": str(len(body))}
            )
            self.wfile.write(body)

        def _poison(self) -> None:
            items = [event(i) for i in range(10)]
            items.insert(5, event(99, timestamp="9" * 4400))
            body = orjson.dumps(items)
            self._headers(
                200, {"Content-Type": "application/json", "Content-Length": str(len(body))}
            )
            self.wfile.write(body)

        def _then(self, path: str, after: Any) -> None:
            if server.requests.count(path) <= 1:
                self._good()
            else:
                after()

        def _good_then_drip(self) -> None:
            self._then("/good-then-drip", self._drip)

        def _good_then_endless(self) -> None:
            self._then("/good-then-endless", self._endless)

        def _good_then_stall(self) -> None:
            self._then("/good-then-stall", self._stall)

        def _echo_error(self) -> None:
            body = f"internal error while serving {self.requestline}".encode()
            self._headers(500, {"Content-Length": str(len(body))})
            self.wfile.write(body)

        def _redirect_away(self) -> None:
            self._headers(
                302, {"Location": server.url("/good", host="localhost"), "Content-Length": "0"}
            )

        def _redirect_home(self) -> None:
            self._headers(302, {"Location": "/good", "Content-Length": "0"})

        def _endless(self) -> None:
            self._headers(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
            self._chunk(b"[")
            block = b",".join(orjson.dumps(event(i)) for i in range(200)) + b","
            while not server.stopping.wait(0.01):  # about 2 MB/s, for ever
                self._chunk(block)

        def _drip(self) -> None:
            self._headers(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
            text = b"[" + orjson.dumps(event(0)) * 1000
            for byte in text:
                if server.stopping.wait(1.0):
                    return
                self._chunk(bytes([byte]))

        def _stall(self) -> None:
            self._headers(200, {"Content-Type": "application/json", "Content-Length": "1000"})
            self.wfile.write(b"[")
            self.wfile.flush()
            server.stopping.wait(600)

        def _bomb(self) -> None:
            body = bomb_body()
            self._headers(
                200,
                {
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                    "Content-Length": str(len(body)),
                },
            )
            self.wfile.write(body)

        def _big(self) -> None:
            self._headers(
                200, {"Content-Type": "application/json", "Content-Length": str(BIG_BYTES)}
            )
            for data in big_page_chunks():
                if server.stopping.is_set():
                    return
                self.wfile.write(data)

    return Handler


def gunzip_size(body: bytes) -> int:
    """Inflated size of a gzip body, counted in steps (for the fixture's own check)."""
    size = 0
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as handle:
        while block := handle.read(1 << 20):
            size += len(block)
    return size


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
