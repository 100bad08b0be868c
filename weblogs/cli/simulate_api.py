"""`weblogs simulate-api`: serve simulated web traffic on loopback (a dev tool)."""

from __future__ import annotations

import argparse
import math
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weblogs.core import clock
from weblogs.simulator import SimulatorServer, TrafficGenerator
from weblogs.simulator.population import DEFAULT_START


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _start(text: str) -> datetime:
    if text == "now":
        return clock.now(os.environ).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date-time or 'now': {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_parser(subparsers: Any) -> None:
    """Register `weblogs simulate-api`."""
    parser = subparsers.add_parser(
        "simulate-api",
        help="serve simulated web traffic on GET /events?limit=N (loopback by default)",
        description="Serve deterministic, realistic web traffic as a web-traffic API does: "
        "GET /events?limit=N returns a JSON array. Faults can be injected with "
        "?fault=NAME or --fault-rate.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--rate", type=_non_negative, default=0.0, help="events per second served (0: unlimited)"
    )
    parser.add_argument("--malformed-rate", type=_rate, default=0.02)
    parser.add_argument("--extra-field-rate", type=_rate, default=0.05)
    parser.add_argument("--duplicate-rate", type=_rate, default=0.01)
    parser.add_argument("--users", type=int, default=500, help="registered users (default 500)")
    parser.add_argument(
        "--start",
        type=_start,
        default=None,
        help=f"timestamp of the first event, ISO-8601 or 'now' (default {DEFAULT_START:%Y-%m-%d})",
    )
    parser.add_argument("--max-events", type=int, default=None, help="then serve [] forever")
    parser.add_argument(
        "--fault-rate", type=_rate, default=0.0, help="share of requests answered with a fault"
    )
    parser.add_argument(
        "--crm-dir", type=Path, default=None, help="write customers.csv and ratings.csv here"
    )
    parser.set_defaults(func=run_simulator)


def run_simulator(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    from weblogs.core.errors import UsageError

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if args.users < 1:
        raise UsageError(f"--users must be at least 1, got {args.users}")
    if args.max_events is not None and args.max_events < 0:
        raise UsageError(f"--max-events must be >= 0, got {args.max_events}")
    try:
        generator = TrafficGenerator(
            args.seed,
            start=args.start,
            malformed_rate=args.malformed_rate,
            extra_field_rate=args.extra_field_rate,
            duplicate_rate=args.duplicate_rate,
            users=args.users,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.crm_dir is not None:
        try:
            generator.write_crm(args.crm_dir)
        except OSError as exc:
            raise UsageError(f"cannot write CRM files to {args.crm_dir}: {exc}") from None
        print(f"simulate-api: wrote customers.csv and ratings.csv to {args.crm_dir}", flush=True)
    try:
        server = SimulatorServer(
            generator,
            host=args.host,
            port=args.port,
            rate=args.rate,
            max_events=args.max_events,
            fault_rate=args.fault_rate,
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    print(
        f"simulate-api: serving {server.url}?limit=N (seed={args.seed}, "
        f"start={generator.start:%Y-%m-%dT%H:%M:%SZ}); Ctrl-C stops",
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    server.stop()
    print(f"simulate-api: stopped after serving {server.served} events", flush=True)
    return 0
