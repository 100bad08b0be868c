"""`weblogs consume`: the API consumer (the same code as `python -m ingestion`)."""

from __future__ import annotations

import argparse
from typing import Any

from ingestion.main import DESCRIPTION, add_arguments, run_consume


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "consume",
        help="poll the web-traffic API and stream events to Kinesis (or a local stream)",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_consume(args)
