"""`python -m weblogs.trino start|stop|status|register`: the local Trino in one command.

`start` fetches the pinned release on first use, starts one JVM on 127.0.0.1,
declares the lake's tables and registers the partitions of the lake's objects;
it prints the environment the dbt `trino` target reads. `register` adds the
partitions of objects written since (what the s3toathena Lambda does on AWS).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from weblogs.trino import server, tables


def _connect(running: server.Server, schema: str) -> object:
    import trino

    return trino.dbapi.connect(
        host="127.0.0.1",
        port=running.port,
        user="weblogs",
        catalog=running.catalog,
        schema=schema,
        http_scheme="http",
    )


def _declare(running: server.Server, schema: str) -> tables.Registration:
    connection = _connect(running, schema)
    try:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        return tables.declare_lake(
            cursor, Path(running.lake), running.root, catalog=running.catalog, schema=schema
        )
    finally:
        connection.close()  # type: ignore[attr-defined]


def _exports(running: server.Server) -> str:
    return (
        f"export WEBLOGS_TRINO_PORT={running.port}\n"
        "export WEBLOGS_DBT_TARGET=trino\n"
        "# then: dbt build --vars '{startdate: YYYY-MM-DD, enddate: YYYY-MM-DD}'"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m weblogs.trino", description=__doc__)
    parser.add_argument("action", choices=("start", "stop", "status", "register"))
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("WEBLOGS_TRINO_STATE_DIR", "data/trino")),
        help="configuration, metastore, tables and log of this Trino (default data/trino)",
    )
    parser.add_argument(
        "--lake",
        type=Path,
        default=Path(os.environ.get("WEBLOGS_LAKE_ROOT", "data/lake")),
        help="the lake root (default $WEBLOGS_LAKE_ROOT or data/lake)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("WEBLOGS_TRINO_PORT", "0") or 0),
        help="HTTP port on 127.0.0.1 (default: a free one)",
    )
    parser.add_argument("--schema", default=os.environ.get("WEBLOGS_GLUE_DATABASE", "weblogs"))
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            stopped = server.stop(args.state_dir)
            print("trino: stopped" if stopped else "trino: not running")
            return 0
        if args.action == "status":
            running = server.running(args.state_dir.resolve())
            print(f"trino: running on {running.url}" if running else "trino: not running")
            return 0 if running else 1
        if args.action == "start":
            if not args.lake.is_dir():
                raise server.TrinoError(
                    f"no lake at {args.lake} (run `weblogs demo` or pass --lake)"
                )
            running = server.start(args.state_dir, args.lake, port=args.port or None)
        else:
            found = server.running(args.state_dir.resolve())
            if found is None:
                raise server.TrinoError("Trino is not running (make trino)")
            running = found
        tables.validate_identifier(args.schema, "schema")
        registration = _declare(running, args.schema)
        print(f"trino: {running.url}, lake {running.lake}: {registration.summary()}")
        if args.action == "start":
            print(_exports(running))
        return 0
    except (server.TrinoError, ValueError) as exc:
        print(f"trino: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
