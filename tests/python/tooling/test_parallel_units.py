"""How `make pytest` runs the suite (docs/contributing.md, Running the tests): a test
file is one work unit, run whole by one worker; dbt commands forked from a warm
process behave as the `dbt` command does."""

from __future__ import annotations

import os
import re
import subprocess
from collections import defaultdict
from pathlib import Path

from conftest import REPO_ROOT, TRINO_GROUP, work_unit
from dbt_helpers import DBT, DbtProject, dbt_command

ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Two fast files with many tests each: a split would show within seconds.
FILES = ("tests/python/core/test_contract.py", "tests/python/lambdas/test_s3toathena_keys.py")


def test_the_session_trino_files_are_one_unit_and_every_other_file_its_own() -> None:
    assert work_unit("tests/python/trino/test_trino_dbt.py") == TRINO_GROUP
    assert work_unit("tests/python/trino/test_trino_tables.py") == TRINO_GROUP
    assert work_unit("tests/python/trino/test_a_new_one.py") == TRINO_GROUP
    assert work_unit("tests/python/test_trino_flat.py") == TRINO_GROUP  # a flat file too
    # A Trino file with a server of its own, never the session's: a unit of its own, so
    # its JVM runs beside the session's on the other worker.
    calendar = "tests/python/trino/test_trino_calendar.py"
    assert work_unit(calendar) == calendar


def test_a_trino_file_is_in_the_session_unit_when_it_asks_for_trino_lake(tmp_path: Path) -> None:
    """Its own server and a word on `trino_lake` in prose: its own unit; a parameter or
    a fixture name in quotes: the session's unit."""
    folder = tmp_path / TRINO_GROUP
    folder.mkdir()
    fixture = "trino" + "_lake"  # spelled apart: this file itself asks for no Trino
    own = f'"""Not the session\'s `{fixture}`: ours."""\nrunning = server.start(state, lake)\n'
    uses = {
        "param": f"def test_a({fixture}: TrinoLake) -> None: ...\n",
        "bare": f"def test_a(tmp_path, {fixture}): ...\n",
        "named": f'server.start(s, l)\nrequest.getfixturevalue("{fixture}")\n',
    }
    (folder / "test_own.py").write_text(own)
    assert work_unit(str(folder / "test_own.py")) == str(folder / "test_own.py")
    for name, text in uses.items():
        (folder / f"test_{name}.py").write_text(own + text)
        assert work_unit(str(folder / f"test_{name}.py")) == TRINO_GROUP, name
    for file in ("tests/python/core/test_contract.py", "tests/python/dbt/test_dbt_build.py"):
        assert work_unit(file) == file


def test_each_file_runs_whole_on_one_worker() -> None:
    """`make pytest` itself, on two files: our scheduler hands each unit whole to one
    worker. (Under pytest 9.2, `--dist loadgroup` ignored the units' markers and spread
    a file's tests over both workers: module fixtures built twice, two Trinos.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTEST_ADDOPTS"] = " ".join(["-v", "-p", "no:cacheprovider", *FILES])
    done = subprocess.run(
        ["make", "-s", "pytest", "PYTEST_WORKERS=2"],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "scheduling tests via WorkUnitScheduling" in done.stdout, done.stdout[-3000:]
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, file in re.findall(r"^\[(gw\d+)\] .*PASSED (\S+?)::", done.stdout, re.M):
        workers[file].add(worker)
    assert set(workers) == set(FILES), done.stdout[-3000:]
    for file, ran_on in workers.items():
        assert len(ran_on) == 1, (file, sorted(ran_on))


def test_a_forked_dbt_command_answers_as_the_dbt_command(tmp_path: Path) -> None:
    """Same exit code and the same one-line error, forked (DbtProject's default) or not."""
    (tmp_path / "lake").mkdir()
    project = DbtProject(tmp_path / "work", tmp_path / "lake")
    args = ["build", "--vars", "{startdate: '2026-02-30', enddate: '2026-03-01'}"]
    args += ["--project-dir", str(REPO_ROOT)]
    forked = dbt_command(args, env=project.env, cwd=project.workdir)
    started = subprocess.run(
        [DBT, *args], capture_output=True, text=True, env=project.env, cwd=project.workdir,
        check=False,
    )  # fmt: skip

    def error_lines(out: str) -> list[str]:
        return [
            line.split("weblogs vars:", 1)[1]
            for line in out.splitlines()
            if "weblogs vars:" in line
        ]

    assert forked.returncode == started.returncode != 0
    assert error_lines(ANSI.sub("", forked.stdout)) == error_lines(ANSI.sub("", started.stdout))
    assert len(error_lines(ANSI.sub("", forked.stdout))) == 1
    assert "Traceback" not in forked.stdout + forked.stderr
    parsed = dbt_command(
        ["parse", "--project-dir", str(REPO_ROOT)], env=project.env, cwd=project.workdir
    )
    assert parsed.returncode == 0, parsed.stdout[-2000:]
    assert (project.target_path / "manifest.json").is_file()
