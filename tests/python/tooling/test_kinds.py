"""The kind of every test (tests/python/conftest.py, `pytest_itemcollected`): set from
its folder and fixtures, so `make test-fast` (`-m unit`) holds no test that runs dbt,
Trino or moto (docs/contributing.md, Running the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, file_kinds

KINDS = {"unit", "dbt", "trino", "aws", "slow"}

#: A plugin that prints each collected test with its markers, one line each.
SHOW_MARKERS = """
def pytest_collection_finish(session):
    for item in session.items:
        names = sorted({m.name for m in item.iter_markers()})
        print("MARKS", item.nodeid.replace(" ", "_"), ",".join(names))
"""


@pytest.mark.slow  # a whole collection of the suite in a subprocess
def test_every_test_has_a_kind_and_unit_excludes_the_others(tmp_path: Path) -> None:
    """The kinds by folder and fixtures (conftest.py), read from one real collection:
    `-m unit` (`make test-fast`) holds no test that runs dbt, Trino or moto, and every
    test has at least one kind."""
    (tmp_path / "show_markers.py").write_text(SHOW_MARKERS, encoding="utf-8")
    kinds = collected_kinds(tmp_path)
    assert len(kinds) > 100, sorted(kinds)[:5]
    assert [nodeid for nodeid, found in kinds.items() if not found] == []
    unit = {nodeid for nodeid, found in kinds.items() if "unit" in found}
    assert [nodeid for nodeid in unit if kinds[nodeid] != {"unit"}] == []
    assert not {n for n in unit if n.startswith(("tests/python/dbt/", "tests/python/trino/"))}
    assert any(n.startswith("tests/python/core/test_contract.py::") for n in unit)
    assert all(kinds[n] >= {"trino"} for n in kinds if n.startswith("tests/python/trino/"))
    assert all(kinds[n] >= {"dbt"} for n in kinds if n.startswith("tests/python/dbt/"))
    # `-m unit` skips importing the files that hold no unit test (conftest.py,
    # pytest_ignore_collect): it selects the same tests as the whole collection.
    assert set(collected_kinds(tmp_path, "-m", "unit")) == unit


def collected_kinds(plugin_dir: Path, *args: str) -> dict[str, set[str]]:
    """The kinds of every test a `--collect-only` run with `args` selects."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(plugin_dir)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
         "-p", "show_markers", "--collect-only", "-q", *args],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return {
        nodeid: set(marks.strip().split(",")) & KINDS
        for _, nodeid, marks in (
            (line + " ").split(" ", 2) for line in done.stdout.splitlines()
            if line.startswith("MARKS ")
        )
    }  # fmt: skip


def test_file_kinds_come_from_the_folder_and_the_text(tmp_path: Path) -> None:
    for folder, text, kinds in (
        ("dbt", "", {"dbt"}),
        ("trino", "", {"trino"}),
        ("core", "x = 1", set()),
        ("adapters", "from dbt_helpers import Dbt" + "Project", {"dbt"}),
        # A flat file, as merged from another branch. (The names are split so that
        # this file itself reads as neither a dbt nor a Trino file.)
        ("python", "def test_x(" + "trino_" + "lake): ...", {"trino"}),
    ):
        path = tmp_path / folder / "test_x.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        assert file_kinds(path) == kinds, (folder, text)
