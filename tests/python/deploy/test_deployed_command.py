"""The dbt image's commands as deployed, on AWS (moto's server over loopback HTTP).

Each runs the image's ENTRYPOINT with the task definition's command and
environment from deploy/template.yaml, from a copy of only what
deploy/dockerfile-dbt copies, in a virtualenv built from
deploy/requirements-dbt.txt alone (deployed.py). No Docker engine here: where
one exists, `docker build` + `docker run` add the base image's OS on top.
The Trino run of the same command is in test_trino_deployed_command.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from awsfixtures import REGION, MotoServer
from dbt_helpers import build_fixture_lake
from deployed import Image, image_tree, image_venv, run_image, task_container
from moto.core import DEFAULT_ACCOUNT_ID

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv() -> Path:
    return image_venv()


@pytest.fixture
def image(tmp_path: Path) -> Image:
    return image_tree(tmp_path / "root")


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    moto_server.reset()
    yield moto_server
    moto_server.reset()


def task_role(server: MotoServer) -> dict[str, str]:
    """What the ECS task role and the VPC endpoints give the container: credentials, AWS."""
    return {k: v for k, v in server.env.items() if k != "AWS_REGION"}


def test_the_image_has_no_duckdb(venv: Path) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import duckdb"], capture_output=True, check=False
    )
    assert done.returncode != 0


def test_the_daily_command_on_athena_reaches_dbts_statements(
    moto: MotoServer, venv: Path, image: Image
) -> None:
    command, env = task_container("dbt", REGION, DEFAULT_ACCOUNT_ID)
    assert command == image.cmd == ["models"]
    bucket = env["WEBLOGS_ATHENA_S3_STAGING_DIR"].removeprefix("s3://").split("/")[0]
    moto.client("s3").create_bucket(Bucket=bucket)
    moto.client("athena").create_work_group(Name=env["WEBLOGS_ATHENA_WORKGROUP"])
    glue = moto.client("glue")
    for database in (env["WEBLOGS_GLUE_DATABASE"], env["WEBLOGS_ATHENA_SCHEMA"]):
        glue.create_database(DatabaseInput={"Name": database})
    string = [{"Name": "x", "Type": "string"}]
    for table in ("events", "customers", "ratings", env["WEBLOGS_GLUE_ARRIVALS_TABLE"]):
        glue.create_table(
            DatabaseName=env["WEBLOGS_GLUE_DATABASE"],
            TableInput={"Name": table, "StorageDescriptor": {"Columns": string}},
        )
    # moto executes no query: the runner's two reads get these answers (moto's result queue),
    # the run log does not exist yet and one batch arrived yesterday for 2026-10-02.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    moto.queue_athena_results(
        [["n"], ["0"]],
        [
            ["event_date", "event_hour", "arrived_at", "first_ingested_at", "year", "month", "day"],
            ["2026-10-02", "10", f"{yesterday}T10:00:00.000000Z", f"{yesterday}T10:00:00.000000Z",
             f"{yesterday:%Y}", f"{yesterday:%m}", f"{yesterday:%d}"],
        ],
    )  # fmt: skip
    done = run_image(image, venv, command, env | task_role(moto))
    athena = moto.client("athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    sent = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
    # dbt got as far as its statements (the staging views, then their data tests; no unit
    # test: the runner leaves them to CI): moto runs none, so the run then fails, in one line.
    views = [q for q in sent if "create or replace view" in q["Query"].lower()]
    tests = [q for q in sent if "dbt_internal_test" in q["Query"]]
    assert views and tests, done.stdout[-3000:] + done.stderr[-3000:]
    assert not [q for q in sent if '"node_id": "unit_test.' in q["Query"]]
    assert {q["WorkGroup"] for q in sent} == {env["WEBLOGS_ATHENA_WORKGROUP"]}
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("weblogs models: error: dbt build failed:"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    for word in ("no events in", "duckdb", "Traceback"):
        assert word not in done.stderr, done.stderr


def test_the_compaction_command_compacts_on_s3(
    moto: MotoServer, venv: Path, image: Image, tmp_path: Path
) -> None:
    command, env = task_container("compact", REGION, DEFAULT_ACCOUNT_ID)
    assert command[0] == "compact"
    bucket = command[command.index("--lake") + 1].removeprefix("s3://")
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    # The fixture lake's two batches both wrote this hour: two objects, one after compaction.
    lake = build_fixture_lake(tmp_path)
    prefix = "events/year=2026/month=10/day=03/hour=12/"
    parts = sorted((lake / prefix).glob("*.parquet"))
    assert len(parts) == 2
    for part in parts:
        s3.upload_file(str(part), bucket, prefix + part.name)
    rows = sorted(r for part in parts for r in pq.read_table(part)["event_id"].to_pylist())
    # The command as scheduled, but with no grace before the old objects go (the
    # default waits 300 s so running queries can finish; nothing reads here).
    done = run_image(image, venv, [*command, "--grace-seconds", "0"], env | task_role(moto))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert len(keys) == 1 and keys[0] not in {prefix + p.name for p in parts}, keys
    s3.download_file(bucket, keys[0], str(tmp_path / "out.parquet"))
    assert sorted(pq.read_table(tmp_path / "out.parquet")["event_id"].to_pylist()) == rows
