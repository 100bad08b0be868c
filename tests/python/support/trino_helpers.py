"""The Trino the tests share: one server per pytest session over the fixture lake.

Its lake is the fixture lake plus a third `weblogs transform` batch of acquisition
traffic (acquisition_reference.py: every channel, campaign tags, funnels, page
paths), so the Athena SQL of docs/contract.md section 4 runs on Trino too, and a
fourth of returning devices and logins (visitors_reference.py) for section 5.

The first session on a machine downloads the pinned release (into the cache
outside the repository); every later one reuses it. The server runs from a
temporary state directory and is stopped when the session ends; it is a `quick`
server (weblogs.trino.server.QUICK_JVM: C1 only, the serial collector), measured by
bench/trino_jvm.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import trino
from dbt_helpers import START, DbtProject, build_fixture_lake, transform, write_jsonl
from revenue_reference import revenue_events
from visitors_reference import visitor_events

from weblogs.trino import server, tables

#: Generated acquisition sessions added to the fixture lake (enough to reach every channel).
ACQUISITION_SESSIONS = 300
#: The visitor traffic (visitors_reference.visitor_events) added to the lake: its days.
VISITORS_FIRST = date(2026, 9, 7)
VISITORS_DAYS = 10


@dataclass(frozen=True)
class TrinoLake:
    """The running server, the lake it serves and the first registration's outcome."""

    server: server.Server
    lake: Path
    registration: tables.Registration

    def cursor(self, schema: str = "weblogs") -> Any:
        connection = trino.dbapi.connect(
            host="127.0.0.1", port=self.server.port, user="weblogs", catalog="hive", schema=schema
        )
        return connection.cursor()

    def query(self, sql: str, schema: str = "weblogs") -> list[list[Any]]:
        cursor = self.cursor(schema)
        cursor.execute(sql)
        return cursor.fetchall()

    def table(self, name: str, schema: str) -> list[dict[str, Any]]:
        cursor = self.cursor(schema)
        cursor.execute(f"select * from {name}")
        rows = cursor.fetchall()
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def dbt(
        self, workdir: Path, schema: str, threads: int = 4, unit_tests: bool = False
    ) -> DbtProject:
        """A dbt project on the `trino` target, its models in `schema`."""
        return DbtProject(
            workdir,
            self.lake,
            unit_tests=unit_tests,
            env={
                "WEBLOGS_DBT_TARGET": "trino",
                "WEBLOGS_TRINO_PORT": str(self.server.port),
                "WEBLOGS_TRINO_SCHEMA": schema,
                "WEBLOGS_TRINO_THREADS": str(threads),
            },
        )


def trino_fixture_lake(root: Path) -> Path:
    """The lake the session's Trino serves, under `root/lake`: the fixture lake plus the
    acquisition and visitor batches."""
    lake = build_fixture_lake(root)
    # Section 4 traffic with operating systems, countries and values (section 6) added.
    events = revenue_events(date.fromisoformat(START), 3, ACQUISITION_SESSIONS, seed=18)
    transform(write_jsonl(root / "acquisition.jsonl", events), lake)
    # Devices, logins and returns for section 5, weeks before the fixture's window.
    visits = visitor_events(VISITORS_FIRST, VISITORS_DAYS, seed=5)
    transform(write_jsonl(root / "visitors.jsonl", visits), lake)
    return lake


def running_trino_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrinoLake]:
    """The body of conftest.py's session fixture `trino_lake`: the lake built, the server
    started and the lake declared; the server stopped when the session ends. (conftest.py
    imports this module only when a test asks for the fixture: trino, dbt and pyarrow stay
    out of the unit tests' start-up.)"""
    root = tmp_path_factory.mktemp("trino")
    lake = trino_fixture_lake(root)
    state = root / "state"
    running = server.start(state, lake, quick=True)
    try:
        connection = trino.dbapi.connect(
            host="127.0.0.1", port=running.port, user="weblogs", catalog="hive"
        )
        registration = tables.declare_lake(connection.cursor(), lake, running.root)
        yield TrinoLake(running, lake, registration)
    finally:
        server.stop(state)
