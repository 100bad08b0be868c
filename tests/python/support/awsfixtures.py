"""Test helpers for AWS over real HTTP: moto's server and a fault-injecting proxy.

The proxy sits between boto3 and moto on loopback and answers chosen requests
with an error, so failure paths are exercised over the wire rather than by
patching clients in-process.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    server: ThreadedMotoServer
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def client(self, service: str, endpoint: str | None = None) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        """Forget every resource (moto's reset API), so tests do not see each other's data."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/moto-api/reset")
        conn.getresponse().read()
        conn.close()

    def stop(self) -> None:
        self.server.stop()


def start_moto_server() -> MotoServer:
    # Port 0: the kernel picks a free port at bind time, so two workers never race for one.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return MotoServer(server, server.get_host_and_port()[1])


@dataclass
class FaultRule:
    """Fail requests matching `match(method, path, headers, body)`; `times` < 0 means always."""

    match: Callable[[str, str, dict[str, str], bytes], bool]
    status: int = 500
    body: bytes = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
    times: int = -1
    hits: int = 0


@dataclass
class FaultProxy:
    """A loopback HTTP proxy in front of moto that injects failures by rule."""

    target_port: int
    rules: list[FaultRule] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                proxy.requests.append((self.command, self.path))
                for rule in proxy.rules:
                    if rule.times != 0 and rule.match(self.command, self.path, headers, body):
                        rule.times -= 1
                        rule.hits += 1
                        self.send_response(rule.status)
                        self.send_header("Content-Length", str(len(rule.body)))
                        self.end_headers()
                        self.wfile.write(rule.body)
                        return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=30)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                # A HEAD answer has no body but the object's length: pass it on as is.
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                for key, value in response.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
