"""Where the site's datasets are read from: the DuckDB file, or Trino in production.

A reader runs one query and returns (column names, rows). The pages' SQL
(`weblogs.dashboard.pages`) is written to run unchanged on both engines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

Result = tuple[list[str], list[Sequence[Any]]]
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


class ReaderError(Exception):
    """A reader that cannot be opened or a query that failed: one line."""


class Reader(Protocol):
    def query(self, sql: str) -> Result: ...

    def close(self) -> None: ...


class DuckDbReader:
    """The DuckDB file, opened read-only (a running `dbt build` keeps its lock)."""

    hint = " (run `make demo` first?)"

    def __init__(self, path: Path) -> None:
        import duckdb

        if not path.is_file():
            raise ReaderError(f"no warehouse at {path}: run `make demo` first")
        try:
            self.con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise ReaderError(f"cannot open {path}: {first_line(exc)}") from exc
        self.name = str(path)

    def query(self, sql: str) -> Result:
        import duckdb

        try:
            relation = self.con.sql(sql)
            return list(relation.columns), relation.fetchall()
        except duckdb.Error as exc:
            raise ReaderError(f"{self.name}: {first_line(exc)}{self.hint}") from exc

    def close(self) -> None:
        self.con.close()


class TrinoReader:
    """Trino at ``http://host:port/catalog/schema`` (the marts' schema), user `weblogs`."""

    def __init__(self, url: str) -> None:
        import trino

        parts = urlsplit(url)
        path = parts.path.strip("/").split("/")
        if parts.scheme not in ("http", "https") or len(path) != 2 or not parts.hostname:
            raise ReaderError(f"--trino must be http(s)://host:port/catalog/schema, got {url!r}")
        if not all(NAME.match(p) for p in path):
            raise ReaderError(f"--trino catalog and schema must be lower-case names, got {path}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 8080)
        except ValueError as exc:
            raise ReaderError(f"--trino port: {exc}") from exc
        self.con = trino.dbapi.connect(
            host=parts.hostname,
            port=port,
            http_scheme=parts.scheme,
            user="weblogs",
            catalog=path[0],
            schema=path[1],
        )
        self.name = url

    def query(self, sql: str) -> Result:
        import trino

        cursor = self.con.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        except (trino.exceptions.Error, OSError) as exc:
            raise ReaderError(f"{self.name}: {first_line(exc)}") from exc
        return [d[0] for d in cursor.description], rows

    def close(self) -> None:
        self.con.close()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
