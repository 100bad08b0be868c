"""Reading the built marts and the run log through the target's own connection.

DuckDB for `local` (imported only there), the `trino` client for `trino`, boto3's
Athena for `athena`: a remote target never touches DuckDB. Every reader returns
(column names, rows) with plain Python values (numbers as int/float).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from weblogs.adapters import athena_query
from weblogs.analytics.targets import Target, athena_settings

Rows = tuple[list[str], list[tuple[Any, ...]]]
Reader = Callable[[str], Rows]


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def duckdb_reader(path: Path) -> Reader:
    def read(sql: str) -> Rows:
        import duckdb

        # Before the first build there is no file: an empty database answers (no tables).
        with duckdb.connect(
            str(path) if path.exists() else ":memory:", read_only=path.exists()
        ) as con:
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description]
            return columns, [tuple(_plain(v) for v in row) for row in cursor.fetchall()]

    return read


def trino_reader(env: Mapping[str, str], schema: str) -> Reader:
    """The profile's trino settings (profiles.yml.example), from the same variables."""

    def read(sql: str) -> Rows:
        import trino

        connection = trino.dbapi.connect(
            host=env.get("WEBLOGS_TRINO_HOST") or "127.0.0.1",
            port=int(env.get("WEBLOGS_TRINO_PORT") or "8080"),
            user=env.get("WEBLOGS_TRINO_USER") or "weblogs",
            http_scheme=env.get("WEBLOGS_TRINO_HTTP_SCHEME") or "http",
            catalog=env.get("WEBLOGS_TRINO_CATALOG") or "hive",
            schema=schema,
        )
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            rows = cursor.fetchall()
            columns = [d[0] for d in cursor.description]
        finally:
            connection.close()
        return columns, [tuple(_plain(v) for v in row) for row in rows]

    return read


def athena_reader(env: Mapping[str, str], schema: str) -> Reader:
    settings = athena_settings(env)

    def read(sql: str) -> Rows:
        return athena_query.run_query(
            sql,
            region=settings.region,
            workgroup=settings.workgroup,
            output=settings.staging_dir,
            catalog=settings.catalog,
            database=schema,
        )

    return read


def reader_for(target: Target, env: Mapping[str, str], duckdb_path: Path) -> Reader:
    """The reader of `target`'s marts."""
    if target.name == "local":
        return duckdb_reader(duckdb_path)
    if target.name == "trino":
        return trino_reader(env, target.schema)
    return athena_reader(env, target.schema)
