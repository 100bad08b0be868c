"""The same dbt project for Athena: compiled offline, and run by dbt-athena against moto's server.

Compilation needs no AWS (`--no-populate-cache`, dummy settings). The moto run
goes over real HTTP on loopback: moto's Athena records every statement but
executes none, so the Glue catalog only knows what the test registers itself.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from awsfixtures import MotoServer
from dbt_helpers import DbtProject
from sqlglot import exp

pytestmark = pytest.mark.slow

#: A window across a month boundary: partitions 2026-09-29 .. 2026-10-03 are read.
VARS = "{startdate: '2026-09-30', enddate: '2026-10-02'}"
PARTITION_PREDICATE = (
    "((year = '2026' and month = '09' and day in ('29', '30')) or "
    "(year = '2026' and month = '10' and day in ('01', '02', '03')))"
)
#: Functions sqlglot does not model but Trino/Athena has (the project uses only these).
TRINO_EXTRA_FUNCTIONS = {"to_milliseconds"}
DUCKDB_ONLY = ("read_parquet", "read_csv", "regexp_matches", "timestamptz", "::", "qualify")
MODELS = (
    "staging/stg_weblogs__events",
    "staging/stg_crm__customers",
    "staging/stg_crm__ratings",
    "intermediate/int_session_events",
    "intermediate/int_sessions",
    "intermediate/int_run_session_events",
    "intermediate/int_run_sessions",
    "intermediate/int_page_views",
    "intermediate/int_loyalty_users",
    "intermediate/int_ratings_in_window",
    "intermediate/int_session_event_values",
    "intermediate/int_run_session_event_values",
    "marts/engagement_metrics",
    "marts/session_metrics",
    "marts/session_anomalies",
    "marts/loyalty_metrics",
    "marts/loyalty_by_tier",
    "marts/acquisition_metrics",
    "marts/page_metrics",
    "marts/goal_metrics",
    "marts/audience_metrics",
    "operations/weblogs_run_log",
    "semantic/metricflow_time_spine",
)
#: The materialised models that read the events, each inlining the ephemeral chain, when
#: built without the per-run tables (`--select` of the marts alone).
EVENT_READERS = (
    "marts/engagement_metrics",
    "marts/session_metrics",
    "marts/session_anomalies",
    "marts/loyalty_metrics",
    "marts/loyalty_by_tier",
    "marts/acquisition_metrics",
    "marts/page_metrics",
    "marts/goal_metrics",
    "marts/audience_metrics",
)


def athena_env(staging: str = "s3://athena-results/staging/") -> dict[str, str]:
    return {
        "WEBLOGS_DBT_TARGET": "athena",
        "WEBLOGS_ATHENA_S3_STAGING_DIR": staging,
        "WEBLOGS_ATHENA_S3_DATA_DIR": staging.replace("staging", "tables"),
        "WEBLOGS_ATHENA_SCHEMA": "analytics",
        "WEBLOGS_GLUE_DATABASE": "lake_db",
        "WEBLOGS_GLUE_EVENTS_TABLE": "web_events",
    }


def compile_offline(workdir: Path, *select: str) -> DbtProject:
    offline = {
        **athena_env(),
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: compile must not call AWS
    }
    project = DbtProject(workdir, workdir / "no-lake", env=offline)
    project.run("compile", "--target", "athena", "--no-populate-cache", "--vars", VARS, *select)
    return project


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    return compile_offline(tmp_path_factory.mktemp("dbt-athena"))


@pytest.fixture(scope="module")
def compiled_marts(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The marts alone: no per-run table is built, so each mart reads the events itself."""
    return compile_offline(
        tmp_path_factory.mktemp("dbt-athena-marts"), "--select", "path:models/marts"
    )


def compiled_sql(project: DbtProject, model: str) -> str:
    return (project.target_path / f"compiled/weblogs/models/{model}.sql").read_text()


def test_every_compiled_model_parses_as_athena_sql(compiled: DbtProject) -> None:
    for model in MODELS:
        sql = compiled_sql(compiled, model)
        trees = sqlglot.parse(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
        assert len(trees) == 1 and isinstance(trees[0], exp.Query), model
        unknown = {f.name.lower() for f in trees[0].find_all(exp.Anonymous)}
        assert unknown <= TRINO_EXTRA_FUNCTIONS, (model, unknown)
        lowered = sql.lower()
        assert not [word for word in DUCKDB_ONLY if word in lowered], model
        # Round trip through Trino's dialect: what Athena engine v3 runs.
        assert sqlglot.transpile(sql, read="athena", write="trino")


def scanned_tables(sql: str) -> list[str]:
    return [t.name for t in sqlglot.parse_one(sql, read="athena").find_all(exp.Table)]


def assert_reads_the_events_once(project: DbtProject, model: str) -> None:
    """The staging model is ephemeral: every model that inlines it carries the predicate.

    Trino inlines CTEs, so a CTE read twice would scan the partitions twice (Athena
    bills bytes scanned): the events table, the inlined staging and the CTE over it
    are each read once.
    """
    sql = compiled_sql(project, model)
    assert f"where {PARTITION_PREDICATE}" in sql, model
    tables = scanned_tables(sql)
    for name in ("web_events", "__dbt__cte__stg_weblogs__events", "__dbt__cte__int_session_events"):
        assert tables.count(name) == 1, (model, name, tables)


def test_compiled_athena_sql_filters_on_partition_columns(
    compiled: DbtProject, compiled_marts: DbtProject
) -> None:
    sql = compiled_sql(compiled, "staging/stg_weblogs__events")
    assert '"awsdatacatalog"."lake_db"."web_events"' in sql
    assert f"where {PARTITION_PREDICATE}" in sql
    # The predicate sits on the source scan itself, before any window function.
    tree = sqlglot.parse_one(sql, read="athena")
    source_cte = next(c for c in tree.find_all(exp.CTE) if c.alias == "source")
    where = source_cte.this.args["where"]
    columns = {c.name for c in where.find_all(exp.Column)}
    assert columns == {"year", "month", "day"}
    # A full build reads the events once, in int_run_session_events; the marts and
    # int_run_sessions read the per-run tables (int_run_page_views too) instead.
    assert_reads_the_events_once(compiled, "intermediate/int_run_session_events")
    for model in (
        *EVENT_READERS,
        "intermediate/int_run_sessions",
        "intermediate/int_run_session_event_values",
    ):
        tables = scanned_tables(compiled_sql(compiled, model))
        assert "web_events" not in tables, (model, tables)
        per_run = {
            "int_run_sessions",
            "int_run_session_events",
            "int_run_page_views",
            "int_run_session_event_values",
        }
        assert per_run & set(tables), (
            model,
            tables,
        )
    # Built alone (no per-run table selected), each mart reads the events itself.
    for model in EVENT_READERS:
        assert_reads_the_events_once(compiled_marts, model)


def test_descriptions_are_persisted_to_glue_on_athena(compiled: DbtProject) -> None:
    """The Glue and Athena consoles show the docs; DuckDB does not get them (test_dbt_build)."""
    manifest = json.loads((compiled.target_path / "manifest.json").read_text())
    materialised = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral"
    ]
    # thirteen marts, the run log, the four per-run tables, the two visitor facts and
    # MetricFlow's time spine (a view)
    assert len(materialised) == 21
    for node in materialised:
        assert node["config"]["persist_docs"] == {"relation": True, "columns": True}, node["name"]


def test_incremental_marts_are_hive_partitions_overwritten_by_date(compiled: DbtProject) -> None:
    manifest = json.loads((compiled.target_path / "manifest.json").read_text())
    for mart, column in (
        ("engagement_metrics", "session_date"),
        ("session_metrics", "session_date"),
        ("session_anomalies", "report_date"),
        ("acquisition_metrics", "session_date"),
        ("page_metrics", "session_date"),
        ("goal_metrics", "session_date"),
        ("audience_metrics", "session_date"),
    ):
        config = manifest["nodes"][f"model.weblogs.{mart}"]["config"]
        assert config["materialized"] == "incremental"
        assert config["incremental_strategy"] == "insert_overwrite"
        assert config["partitioned_by"] == [column]
        # Hive CTAS needs the partition column last in the select list.
        tree = sqlglot.parse_one(compiled_sql(compiled, f"marts/{mart}"), read="athena")
        assert tree.selects[-1].alias_or_name == column, mart


@pytest.fixture
def moto_athena(moto_server: MotoServer) -> Iterator[MotoServer]:
    """moto with the buckets and the Glue catalog the athena target expects."""
    moto_server.reset()
    moto_server.client("s3").create_bucket(Bucket="athena-results")
    glue = moto_server.client("glue")
    for database in ("lake_db", "analytics"):
        glue.create_database(DatabaseInput={"Name": database})
    string = [{"Name": "x", "Type": "string"}]
    for name in ("web_events", "customers", "ratings"):
        glue.create_table(
            DatabaseName="lake_db",
            TableInput={"Name": name, "StorageDescriptor": {"Columns": string}},
        )
    yield moto_server
    moto_server.reset()


def sent_statements(server: MotoServer) -> list[str]:
    athena = server.client("athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


def run_one_table(project: DbtProject, server: MotoServer, model: str) -> str:
    """Run one table model; returns the CTAS dbt-athena sent, whitespace collapsed.

    dbt-athena then asks Glue for the new table, which moto's Athena never
    created: that lookup is the one expected failure, after the statement was sent.
    """
    done = project.run("run", "--target", "athena", "--select", model, "--vars", VARS, check=False)
    assert f"{model} not found" in done.stdout, done.stdout[-3000:]
    ctas = [s for s in sent_statements(server) if "create table" in s and f'"{model}"' in s]
    assert len(ctas) == 1, ctas
    return " ".join(ctas[0].split())


def test_dbt_athena_sends_the_crm_staging_inlined_into_the_loyalty_mart(
    moto_athena: MotoServer, tmp_path: Path
) -> None:
    """Every staging model is ephemeral: the CRM tables are read inside the mart's CTAS."""
    assert os.environ["AWS_ENDPOINT_URL"] == moto_athena.endpoint
    project = DbtProject(tmp_path, tmp_path / "no-lake", env=athena_env())
    mart = run_one_table(project, moto_athena, "loyalty_metrics")
    assert '"awsdatacatalog"."analytics"."loyalty_metrics"' in mart
    assert '"awsdatacatalog"."lake_db"."customers"' in mart
    assert '"awsdatacatalog"."lake_db"."ratings"' in mart
    assert "from_iso8601_timestamp" in mart
    assert '"awsdatacatalog"."lake_db"."web_events"' in mart  # sessions computed inside
    statements = sent_statements(moto_athena)
    assert not [sql for sql in statements if "create or replace view" in sql]
    for sql in statements:
        body = sql.split("*/", 1)[-1]  # dbt's query comment first
        assert sqlglot.parse(body, read="athena"), sql
        assert "regexp_matches" not in body and "read_parquet" not in body
        assert "read_csv" not in body


def test_dbt_athena_sends_partition_pruned_ctas_and_partitioned_incremental_mart(
    moto_athena: MotoServer, tmp_path: Path
) -> None:
    project = DbtProject(tmp_path, tmp_path / "no-lake", env=athena_env())
    mart = run_one_table(project, moto_athena, "engagement_metrics")
    assert '"awsdatacatalog"."lake_db"."web_events"' in mart
    assert f"where {PARTITION_PREDICATE}" in mart  # the staging CTE, inlined
    assert '"awsdatacatalog"."analytics"."engagement_metrics"' in mart
    assert "table_type='hive'" in mart and "format='parquet'" in mart
    assert "partitioned_by=ARRAY['session_date']" in mart
    # Hive CTAS: the partition column last, after every other column.
    assert re.search(r"visitor_key,\s*session_date\s+from final", mart), mart


def test_incremental_rerun_on_athena_first_clears_the_window_partitions(
    moto_athena: MotoServer, tmp_path: Path
) -> None:
    """The pre-hook drops the Glue partitions of the run's dates and their S3 objects, only those.

    The mart exists (registered in Glue with a partition per day and a file in
    each), so dbt takes the incremental path. moto's Athena does not really build
    the temporary table, so the schema check that follows finds no columns: that
    is the expected failure, after the clean-up.
    """
    glue, s3 = moto_athena.client("glue"), moto_athena.client("s3")
    location = "s3://athena-results/tables/engagement_metrics"
    days = ["2026-09-29", "2026-09-30", "2026-10-01", "2026-10-02", "2026-10-03"]
    glue.create_table(
        DatabaseName="analytics",
        TableInput={
            "Name": "engagement_metrics",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "PartitionKeys": [{"Name": "session_date", "Type": "date"}],
            "StorageDescriptor": {
                "Columns": [{"Name": "session_id", "Type": "string"}],
                "Location": location + "/",
            },
        },
    )
    for day in days:
        glue.create_partition(
            DatabaseName="analytics",
            TableName="engagement_metrics",
            PartitionInput={
                "Values": [day],
                "StorageDescriptor": {"Location": f"{location}/session_date={day}/"},
            },
        )
        s3.put_object(
            Bucket="athena-results",
            Key=f"tables/engagement_metrics/session_date={day}/part-0.parquet",
            Body=b"x",
        )
    project = DbtProject(tmp_path, tmp_path / "no-lake", env=athena_env())
    done = project.run(
        "run", "--target", "athena", "--select", "engagement_metrics", "--vars", VARS, check=False
    )
    partitions = glue.get_partitions(DatabaseName="analytics", TableName="engagement_metrics")
    kept = sorted(p["Values"][0] for p in partitions["Partitions"])
    objects = s3.list_objects_v2(Bucket="athena-results", Prefix="tables/engagement_metrics/")
    files = sorted(o["Key"].split("/")[2] for o in objects.get("Contents", []))
    # VARS is 2026-09-30 .. 2026-10-02: those three dates are cleared, the others stay.
    assert kept == ["2026-09-29", "2026-10-03"], done.stdout[-3000:]
    assert files == ["session_date=2026-09-29", "session_date=2026-10-03"]
    assert done.returncode != 0 and "Target columns not in source" in done.stdout
