"""Shared pytest fixtures: a moto server on loopback (real HTTP), fixed clocks; and how
`make pytest` spreads the suite over its workers (pytest-xdist, `--dist loadgroup`).

Helpers live in `awsfixtures.py` beside this file so test modules can import
them directly (`from awsfixtures import ...`).

The work units (docs/contributing.md, Running the tests): each test file is one unit,
run whole by one worker, so a file's module and session fixtures are built once;
every file that uses the Trino server (`trino_lake`, one JVM per worker session) or
installs it (test_trino_*.py) is in the one unit `trino`, so a single Trino runs at a
time. On a worker the units are ordered by their expected cost, the heaviest first
(`make pytest` passes `--no-loadscope-reorder` so xdist keeps that order), so the
last units to start are short ones and the workers finish together.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from awsfixtures import MotoServer, start_moto_server
from trino_helpers import trino_lake  # noqa: F401  (one Trino per session, on first use)

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The work unit of every test that needs the Trino server (docs/contributing.md).
TRINO_GROUP = "trino"

#: Seconds each test file takes, for the files above ~10 s: one serial run on the 2-core
#: machine (`pytest --junitxml`, test times summed per file; Trino's first download
#: included) while other dbt jobs shared it. Only their order matters: it decides which
#: units start first; a file missing here starts after these, in pytest's order.
FILE_SECONDS = {
    "test_dbt_operation.py": 373,
    "test_dbt_calendar.py": 350,
    "test_trino_dbt.py": 232,
    "test_dbt_lake_root.py": 188,
    "test_dbt_build.py": 122,
    "test_dbt_acquisition.py": 121,
    "test_dbt_cli.py": 77,
    "test_crm_load.py": 64,
    "test_compact.py": 63,
    "test_dbt_athena.py": 54,
    "test_dbt_docs.py": 50,
    "test_dbt_late_patch.py": 41,
    "test_lint_sqlfluff.py": 26,
    "test_hostile_consumer.py": 25,
    "test_demo.py": 24,
    "test_container.py": 22,
    "test_consumer.py": 19,
    "test_trino_tables.py": 19,
    "test_s3toathena_aws.py": 10,
}


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each test in its work unit (`xdist_group`: its file, or `trino`) and, on an
    xdist worker, order the units heaviest first; a serial run keeps pytest's order."""
    trino_files = {
        _file(item)
        for item in items
        if item.path.name.startswith("test_trino") or "trino_lake" in item.fixturenames
    }
    group_of: dict[str, str] = {}
    files_of: dict[str, set[Path]] = defaultdict(set)
    for item in items:
        group = TRINO_GROUP if _file(item) in trino_files else _file(item)
        group_of[item.nodeid] = group
        files_of[group].add(item.path)
        item.add_marker(pytest.mark.xdist_group(group))
    if not hasattr(config, "workerinput"):
        return
    cost = {
        group: sum(FILE_SECONDS.get(path.name, 0) for path in paths)
        for group, paths in files_of.items()
    }
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(group_of[item.nodeid], index)
    # A stable sort: a unit's tests keep their order, units of equal cost theirs.
    items.sort(key=lambda item: (-cost[group_of[item.nodeid]], first[group_of[item.nodeid]]))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session on 127.0.0.1; AWS env points boto3 at it."""
    server = start_moto_server()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
