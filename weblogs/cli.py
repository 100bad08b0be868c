"""The `weblogs` command line: one entry point, subcommands registered by their modules.

Each component module exposes `add_parser(subparsers)`; this file only wires
them, so a component owns its own flags and help text.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from weblogs.errors import UsageError

__all__ = ["UsageError", "build_parser", "main"]

# Modules that contribute subcommands, in the order `weblogs --help` lists them.
COMMAND_MODULES = (
    "weblogs.demo",
    "weblogs.transform_cli",
    "ingestion.simulator",
    "ingestion.consumer",
    "weblogs.replay",
    "weblogs.analytics",
    "weblogs.crm_load",
    "weblogs.compact",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="weblogs",
        description="weblogs: web-analytics pipeline (ingestion, transformation, dbt models).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"weblogs {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
