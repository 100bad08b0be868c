"""The `weblogs` command line: one entry point, one module per subcommand.

Each module in `COMMANDS` exposes `add_parser(subparsers)` and owns its flags and
help text; adding a subcommand is one module here and one line in `COMMANDS`.
The CLI is the top layer: the only one that may import `ingestion`, `lambdas`,
the simulator and the analytics runner.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from weblogs.core.errors import UsageError
from weblogs.core.redact import redact

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

#: Subcommand modules under `weblogs.cli`, in the order `weblogs --help` lists them.
COMMANDS = (
    "demo",
    "transform",
    "simulate_api",
    "consume",
    "replay",
    "models",
    "dashboard",
    "crm_load",
    "compact",
    "forget",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="weblogs",
        description="weblogs: web-analytics pipeline (ingestion, transformation, dbt models).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"weblogs {args.command}: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
