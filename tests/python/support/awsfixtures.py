"""Test helpers for AWS over real HTTP: moto's server and a fault-injecting proxy.

The proxy (`FaultProxy`, on the tests' one `loopback.LoopbackProxy`) sits between
boto3 and moto on loopback and answers chosen requests with an error, so failure
paths are exercised over the wire rather than by patching clients in-process.
boto3 and moto are imported when first used: conftest.py imports this module, and
the unit tests (`make test-fast`) never start moto.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopback import LoopbackProxy, Reply, Request

if TYPE_CHECKING:
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
        import boto3

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

    def queue_athena_results(self, *results: list[list[str]]) -> None:
        """The answers of the next Athena queries, in order (moto's static result queue): each
        a header row of column names, then the rows, every value a string."""
        body = {
            "region": REGION,
            "results": [
                {
                    "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                    "column_info": [{"Name": name, "Type": "varchar"} for name in rows[0]],
                }
                for rows in results
            ],
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(
            "POST", "/moto-api/static/athena/query-results", json.dumps(body),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        assert connection.getresponse().status == 201
        connection.close()

    def stop(self) -> None:
        self.server.stop()


def start_moto_server() -> MotoServer:
    from moto.server import ThreadedMotoServer

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


class FaultProxy(LoopbackProxy):
    """The loopback proxy in front of moto, answering requests that match a rule with its
    error (in rule order) and forwarding the rest; it records every request."""

    def __init__(self, target_port: int, rules: list[FaultRule] | None = None) -> None:
        super().__init__(target_port)
        self.rules: list[FaultRule] = list(rules or [])
        self.requests: list[tuple[str, str]] = []

    def handle(self, request: Request) -> Reply:
        self.requests.append((request.method, request.path))
        for rule in self.rules:
            matched = rule.match(request.method, request.path, request.headers, request.body)
            if rule.times != 0 and matched:
                rule.times -= 1
                rule.hits += 1
                return Reply(rule.status, rule.body)
        return self.forward(request)
