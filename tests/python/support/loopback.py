"""The one loopback HTTP proxy of the tests: it sits between boto3 and moto's server on
127.0.0.1, so failure paths run over real HTTP instead of patched clients.

Every request reaches `LoopbackProxy.handle`, which answers it with `forward(request)`
(moto's reply, as is or altered) or with a `Reply` of its own (an injected error).
The fault proxies are small subclasses that only decide that: `awsfixtures.FaultProxy`
(errors by rule), `faults.KillingProxy` (SIGKILL at the n-th write), and those of
test_s3toathena_aws.py and test_ingestion_aws.py (Athena and Kinesis faults).
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

#: Hop-by-hop headers of moto's reply that the proxy sets itself.
_OWN_HEADERS = ("content-length", "transfer-encoding", "connection")


@dataclass
class Request:
    """One request as boto3 sent it (the body read whole)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def operation(self) -> str:
        """The JSON protocol's operation (`X-Amz-Target`'s last part), else the method."""
        target = self.headers.get("X-Amz-Target", "")
        return target.rsplit(".", 1)[-1] if target else self.method


@dataclass
class Reply:
    """What the proxy answers: moto's reply or an injected one."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close the connection after it (a killed client's request)


class LoopbackProxy:
    """A proxy on 127.0.0.1 in front of `target_port`; subclasses override `handle`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, request: Request) -> Reply:
        """Answer one request; the default forwards it unchanged."""
        return self.forward(request)

    def forward(self, request: Request) -> Reply:
        """Send `request` to moto and return its reply (headers but the hop-by-hop ones)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=30)
        try:
            # The body is read whole, so boto3's `Expect: 100-continue` is already answered.
            skip = ("expect", "content-length")
            headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
            conn.request(request.method, request.path, body=request.body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            # A HEAD reply has no body but keeps moto's length (an object's size).
            own = _OWN_HEADERS[1:] if request.method == "HEAD" else _OWN_HEADERS
            kept = {k: v for k, v in response.getheaders() if k.lower() not in own}
            return Reply(response.status, data, kept)
        finally:
            conn.close()

    def start(self) -> Self:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers boto3's `Expect: 100-continue` at once

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers.items()), body)
                reply = proxy.handle(request)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if not any(key.lower() == "content-length" for key in reply.headers):
                    self.send_header("Content-Length", str(len(reply.body)))
                if reply.close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
