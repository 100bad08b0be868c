"""The dbt image's daily command on the `trino` target, as deployed, end to end.

ENTRYPOINT + `models` (with a backfill's window, as an operator overrides the
command) and the dbt task definition's environment from deploy/template.yaml,
only the target switched to trino and pointed at the local Trino serving the
fixture lake; the files of deploy/dockerfile-dbt, the virtualenv of
deploy/requirements-dbt.txt (deployed.py). The marts it builds equal the DuckDB
marts of the same window over the same lake, and it prints the headline figures
read through Trino.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from awsfixtures import REGION
from dbt_helpers import END, START, DbtProject
from deployed import image_tree, image_venv, run_image, task_container
from moto.core import DEFAULT_ACCOUNT_ID
from test_trino_dbt import ALL_MARTS, KEYS, assert_same_rows
from trino_helpers import TrinoLake

pytestmark = pytest.mark.slow


def test_the_daily_command_on_trino_builds_the_duckdb_marts(
    trino_lake: TrinoLake, tmp_path: Path
) -> None:
    command, env = task_container("dbt", REGION, DEFAULT_ACCOUNT_ID)
    image = image_tree(tmp_path / "root")
    assert command == image.cmd
    env |= {
        "WEBLOGS_DBT_TARGET": "trino",
        "WEBLOGS_TRINO_PORT": str(trino_lake.server.port),
        "WEBLOGS_TRINO_SCHEMA": "weblogs_deployed",
        "WEBLOGS_LAKE_ROOT": str(trino_lake.lake),
    }
    done = run_image(image, image_venv(), [*command, "--startdate", START, "--enddate", END], env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"weblogs models: sessions from {START} to {END} (UTC)" in done.stdout
    on_duckdb = DbtProject(tmp_path / "duckdb", trino_lake.lake)
    on_duckdb.run("run", "--vars", f"{{startdate: {START}, enddate: {END}}}")
    sessions = len(on_duckdb.table("engagement_metrics", "session_id"))
    headline = done.stdout.split("engagement_metrics (sessions")[1].splitlines()[3].split()
    assert headline[0] == str(sessions)
    for mart in ALL_MARTS:
        expected = on_duckdb.table(mart, ", ".join(KEYS[mart]))
        assert expected, mart
        assert_same_rows(trino_lake.table(mart, "weblogs_deployed"), expected, mart)


def test_the_scheduled_command_as_is_runs_on_trino(trino_lake: TrinoLake, tmp_path: Path) -> None:
    """CMD `models` unchanged: the scheduled run plans from the lake's manifests (the clock
    set to after they arrived), builds on Trino, and a second run finds nothing new."""
    command, env = task_container("dbt", REGION, DEFAULT_ACCOUNT_ID)
    image = image_tree(tmp_path / "root")
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    del env["WEBLOGS_ALARM_TOPIC_ARN"]  # no AWS here: the report is the printed summary
    env |= {
        "WEBLOGS_DBT_TARGET": "trino",
        "WEBLOGS_TRINO_PORT": str(trino_lake.server.port),
        "WEBLOGS_TRINO_SCHEMA": "weblogs_scheduled",
        "WEBLOGS_LAKE_ROOT": str(trino_lake.lake),
        "WEBLOGS_NOW": f"{tomorrow}T00:30:00Z",
    }
    done = run_image(image, image_venv(), command, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    first = done.stdout.split("sessions from ")[1][:10]
    last = done.stdout.split("sessions from ")[1][14:24]
    on_duckdb = DbtProject(tmp_path / "duckdb", trino_lake.lake)
    on_duckdb.run("run", "--vars", f"{{startdate: {first}, enddate: {last}}}")
    for mart in ("engagement_metrics", "session_metrics", "acquisition_metrics"):
        expected = on_duckdb.table(mart, ", ".join(KEYS[mart]))
        assert expected, mart
        assert_same_rows(trino_lake.table(mart, "weblogs_scheduled"), expected, mart)
    again = run_image(image, image_venv(), command, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "no events arrived since the last run" in again.stdout
