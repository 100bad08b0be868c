"""Shared pytest fixtures: a moto server on loopback (real HTTP), fixed clocks; and how
`make pytest` spreads the suite over its workers (pytest-xdist, our own scheduler).

The tests sit in one folder per layer (core, ingestion, lambdas, adapters, dbt, trino,
deploy, tooling); the helpers in `support/`, on pytest's `pythonpath` (pyproject.toml),
so a test imports them by bare name (`from awsfixtures import ...`).

The kinds (`pytest_itemcollected`): every test is marked `trino`, `dbt`, `aws` by its
folder and fixtures, or else `unit` unless it is marked `slow`; `make test-fast` runs
`-m unit`.

The work units (docs/contributing.md, Running the tests; `pytest_xdist_make_scheduler`):
each test file is one unit, run whole by one worker, so a file's module and session
fixtures are built once; every file that uses the session's Trino server (`trino_lake`,
one JVM per worker session) or is a Trino file (test_trino_*.py, the trino/ folder) is
in the one unit `trino`, so that server is started once; a Trino file with a server of
its own and no `trino_lake` (test_trino_calendar.py) is its own unit, beside it. On a worker the units are ordered by their expected cost,
the heaviest first (`make pytest` passes `--no-loadscope-reorder` so xdist keeps that
order), so the last units to start are short ones and the workers finish together.
"""

from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awsfixtures import MotoServer, start_moto_server

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The work unit of every test that needs the Trino server (docs/contributing.md).
TRINO_GROUP = "trino"
#: How a Trino test file starts a server of its own (weblogs.trino.server.start).
OWN_SERVER = "server.start("
#: A file asks for the session's Trino: `trino_lake` as a parameter (`trino_lake: TrinoLake`,
#: `trino_lake,`) or by name (`getfixturevalue("trino_lake")`); a mention in prose
#: (backquoted in a docstring) is not a use.
USES_TRINO_LAKE = re.compile(r"\btrino_lake\s*[:,)=]|[\"']trino_lake[\"']")

#: Seconds each test file takes, for the files above ~10 s: the test times of one
#: `make pytest` (2 workers, `--junitxml`, summed per file; 2026-12-07 20:10, 912 tests,
#: a fresh clone's CI on the quiet 2-core machine).
#: Only their order matters: it decides which units start first (the `trino` unit counts
#: its files together); a file missing here starts after these, in pytest's order.
FILE_SECONDS = {
    "test_dbt_calendar.py": 205,
    "test_trino_calendar.py": 180,
    "test_trino_dbt.py": 119,
    "test_dashboard.py": 88,
    "test_dbt_operation.py": 69,
    "test_trino_deployed_command.py": 68,
    "test_trino_forget.py": 66,
    "test_models_runner.py": 47,
    "test_forget_s3.py": 45,
    "test_faults.py": 44,
    "test_dbt_build.py": 44,
    "test_models_vanished_arrivals.py": 42,
    "test_dbt_revenue.py": 39,
    "test_dbt_session.py": 39,
    "test_dbt_lake_root.py": 33,
    "test_dbt_acquisition.py": 32,
    "test_privacy_rules.py": 32,
    "test_dbt_docs.py": 31,
    "test_models_report_period.py": 30,
    "test_dbt_cli.py": 27,
    "test_trino_privacy_lake.py": 24,
    "test_hostile_consumer.py": 23,
    "test_lint_sqlfluff.py": 6,
    "test_dbt_visitors.py": 21,
    "test_dbt_parse_key.py": 20,
    "test_consumer.py": 19,
    "test_demo.py": 18,
    "test_crm_load.py": 17,
    "test_compact.py": 17,
    "test_dbt_athena.py": 17,
    "test_dbt_late_patch.py": 16,
    "test_forget.py": 16,
    "test_dbt_any_build.py": 15,
    "test_dbt_privacy.py": 15,
    "test_trino_tables.py": 12,
    "test_parallel_units.py": 11,
    "test_container.py": 11,
    "test_bench_floor.py": 10,
    "test_deployed_command.py": 10,
}


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@functools.cache
def work_unit(file: str) -> str:
    """The work unit of a test file (its path relative to the rootdir): `trino` for every
    file that uses the session's Trino server (`trino_lake`) or is a Trino file, else the
    file itself. A Trino file that starts a server of its own and never asks for
    `trino_lake` (test_trino_calendar.py) is a unit of its own: its JVM runs beside the
    session's, on the other worker, instead of after it."""
    path = REPO_ROOT / file
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if USES_TRINO_LAKE.search(text):
        return TRINO_GROUP
    trino_file = path.name.startswith("test_trino") or path.parent.name == TRINO_GROUP
    return file if not trino_file or OWN_SERVER in text else TRINO_GROUP


#: The kind markers (pyproject.toml); `unit` is what a test is when it is none of these.
KINDS = ("trino", "dbt", "aws")


@functools.cache
def file_kinds(path: Path) -> frozenset[str]:
    """The kinds every test of a file has: its folder (dbt/, trino/), the Trino server,
    or dbt run through the helpers (`DbtProject`, `dbt_command`) anywhere in it."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    kinds = set()
    if (
        path.parent.name == "trino"
        or path.name.startswith("test_trino")
        or USES_TRINO_LAKE.search(text)
    ):
        kinds.add("trino")
    if path.parent.name == "dbt" or "DbtProject" in text or "dbt_command" in text:
        kinds.add("dbt")
    return frozenset(kinds)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m unit` (`make test-fast`) does not import a test file whose every test has a kind
    other than `unit` (file_kinds: dbt/, trino/, a file that runs dbt): it could select
    none of them, and its imports (dbt's helpers, pyarrow) are a second of each worker's
    start-up. The tests selected are the same."""
    if config.getoption("markexpr", "") != "unit" or collection_path.suffix != ".py":
        return None
    if collection_path.name.startswith("test_") and file_kinds(collection_path):
        return True
    return None


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark a test by kind: its file's kinds, `aws` when it uses the moto server, and
    `unit` when it has none of them and is not `slow` (`make test-fast`)."""
    kinds = set(file_kinds(item.path))
    if "moto_server" in getattr(item, "fixturenames", ()):
        kinds.add("aws")
    kinds |= {kind for kind in KINDS if item.get_closest_marker(kind)}
    if not kinds and not item.get_closest_marker("slow"):
        kinds.add("unit")
    for kind in sorted(kinds):
        item.add_marker(kind)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's load-by-scope scheduler with our work units as the scopes: a unit is handed
    whole to one worker. (Not `--dist loadgroup` with `xdist_group` markers: pytest-xdist
    3.8 renames the tests' `_nodeid` to mark their group, which pytest 9.2 no longer
    reads, so every test became a unit of its own.)"""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(_file(nodeid))

    return WorkUnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, order the work units heaviest first (the controller hands them
    out in collection order, `--no-loadscope-reorder`); a serial run keeps pytest's order."""
    if not hasattr(config, "workerinput"):
        return
    files_of: dict[str, set[Path]] = defaultdict(set)
    for item in items:
        files_of[work_unit(_file(item.nodeid))].add(item.path)
    cost = {
        unit: sum(FILE_SECONDS.get(path.name, 0) for path in paths)
        for unit, paths in files_of.items()
    }
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(work_unit(_file(item.nodeid)), index)

    def order(item: pytest.Item) -> tuple[int, int]:
        unit = work_unit(_file(item.nodeid))
        return (-cost[unit], first[unit])

    # A stable sort: a unit's tests keep their order, units of equal cost theirs.
    items.sort(key=order)


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


@pytest.fixture(scope="session")
def trino_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Trino server per session over the fixture lake (trino_helpers.TrinoLake), on
    first use. trino_helpers is imported here, not at the top: it pulls in trino, dbt's
    helpers and pyarrow, which the unit tests (`make test-fast`) never need."""
    from trino_helpers import running_trino_lake

    yield from running_trino_lake(tmp_path_factory)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
