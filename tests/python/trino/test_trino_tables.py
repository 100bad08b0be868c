"""The local Trino itself: the pinned download, the server, and the lake's tables.

The tables must be the Glue tables of deploy/template.yaml (same columns,
types, partitioning), and partitions are added the way the s3toathena Lambda
adds them: only those of the objects handed over, each key parsed strictly.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from cfnlint.decode import decode
from dbt_helpers import read_events
from evolution_helpers import expected_rows, shown, write_evolution_lake
from trino_helpers import TrinoLake

from weblogs.core.partitions import Partition
from weblogs.trino import server, tables

pytestmark = pytest.mark.slow

TEMPLATE = Path(__file__).resolve().parents[3] / "deploy" / "template.yaml"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def glue_table(logical_id: str) -> dict:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return parsed["Resources"][logical_id]["Properties"]["TableInput"]


def columns(table_input: dict) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]]


def test_trino_tables_declare_the_glue_tables_of_the_template() -> None:
    events = glue_table("EventsTable")
    assert columns(events) == list(tables.EVENTS_COLUMNS)
    keys = [(k["Name"], k["Type"]) for k in events["PartitionKeys"]]
    assert keys == [(key, "string") for key in tables.EVENTS_PARTITION_KEYS]
    for logical_id, name in (("CustomersTable", "customers"), ("RatingsTable", "ratings")):
        crm = glue_table(logical_id)
        assert crm["Name"] == name
        assert columns(crm) == list(tables.CRM_TABLES[name])
        assert crm["Parameters"]["skip.header.line.count"] == "1"
        serde = crm["StorageDescriptor"]["SerdeInfo"]
        assert serde["SerializationLibrary"].endswith("OpenCSVSerde")
        assert (serde["Parameters"]["separatorChar"], serde["Parameters"]["quoteChar"]) == (
            ",",
            '"',
        )
        assert serde["Parameters"]["escapeChar"] == "\\"


def test_trino_serves_those_columns_types_and_partitions(trino_lake: TrinoLake) -> None:
    described = trino_lake.query("describe events")
    expected = [*tables.EVENTS_COLUMNS, *((k, "string") for k in tables.EVENTS_PARTITION_KEYS)]
    assert [(row[0], row[1]) for row in described] == [
        (name, tables.TRINO_TYPES[kind]) for name, kind in expected
    ]
    assert [row[0] for row in described if row[2] == "partition key"] == list(
        tables.EVENTS_PARTITION_KEYS
    )
    for name, cols in tables.CRM_TABLES.items():
        got = [(row[0], row[1]) for row in trino_lake.query(f"describe {name}")]
        assert got == [(column, "varchar") for column, _ in cols], name
    # Every row of the lake is visible, with its values as the files hold them.
    assert trino_lake.registration.added and not trino_lake.registration.rejected
    assert trino_lake.query("select count(*) from events")[0][0] == len(
        read_events(trino_lake.lake)
    )
    assert trino_lake.query("select count(*) from customers")[0][0] == 7
    first = trino_lake.query(
        "select event_timestamp, year, month, day, hour from events where event_id = 'B-tie'"
    )
    assert first == [[datetime(2026, 10, 2, 8, 0), "2026", "10", "02", "08"]]


def test_partitions_are_added_for_new_objects_only_and_hostile_keys_never_reach_sql(
    trino_lake: TrinoLake,
) -> None:
    """A second table over the same lake, fed key by key as the Lambda would be."""
    cursor = trino_lake.cursor()
    cursor.execute("create schema if not exists hive.registration")
    cursor.fetchall()
    cursor.execute(tables.events_table_sql("hive", "registration"))
    cursor.fetchall()
    keys = list(tables.lake_keys(trino_lake.lake))
    day_two = [k for k in keys if "/month=10/day=02/" in k]
    assert day_two and len(day_two) < len(keys)

    def register(batch: list[str]) -> tables.Registration:
        return tables.register_partitions(cursor, batch, schema="registration", now=NOW)

    first = register(day_two)
    hours = {Partition(2026, 10, 2, int(k.split("hour=")[1][:2])) for k in day_two}
    assert sorted(first.added) == sorted(hours) and first.already == 0
    # Only the registered day is visible, whatever else the folder holds.
    days = trino_lake.query("select distinct day from events", "registration")
    assert days == [["02"]]
    # The same objects again (a retried notification): nothing added.
    again = register(day_two)
    assert (again.added, again.already) == ([], len(hours))
    hostile = [
        "events/year=2026/month=10/day=03/hour=10/../../../../../x.parquet",
        "events/year=2026/month=02/day=30/hour=10/a.parquet",
        "events/year=2026/month=10/day=03/hour=1\u0661/a.parquet",
        "events/year=2026/month=10/day=03/hour=10/a'); drop table events; --.parquet",
        "events/year=2099/month=01/day=01/hour=00/a.parquet",
        "crm/customers.csv",
    ]
    rejected = register(hostile)
    assert rejected.added == [] and sum(rejected.rejected.values()) == len(hostile)
    assert set(rejected.rejected) == {
        "key_pattern_mismatch",
        "not_a_calendar_hour",
        "partition_out_of_range",
    }
    assert trino_lake.query("select count(*) from events") == [[len(read_events(trino_lake.lake))]]
    rest = register(keys)
    folders = {key.rsplit("/", 1)[0] for key in keys}
    assert (len(rest.added), rest.already) == (len(folders) - len(hours), len(hours))
    total = trino_lake.query('select count(*) from "events$partitions"', "registration")[0][0]
    assert total == len(trino_lake.registration.added)


def test_the_server_listens_on_loopback_only_and_a_second_start_reuses_it(
    trino_lake: TrinoLake,
) -> None:
    state = Path(trino_lake.server.state_dir)
    assert server.start(state, trino_lake.lake) == trino_lake.server
    listening = [
        c
        for c in psutil.Process(trino_lake.server.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening
    assert {c.laddr.ip.removeprefix("::ffff:") for c in listening} == {"127.0.0.1"}
    with pytest.raises(server.TrinoError, match="already runs"):
        server.start(state, trino_lake.lake.parent / "another-lake")


def test_no_table_can_reach_outside_the_catalog_root(trino_lake: TrinoLake, tmp_path: Path) -> None:
    """The catalog's file system is its state folder (the lake linked in), nothing else.

    A folder outside it, named by an absolute path or by climbing out with
    `..`, is refused or resolved inside the root, where it does not exist.
    """
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("secret\n", encoding="utf-8")
    climb = "/".join([".."] * len(trino_lake.server.root.parts)) + str(outside)
    for location in (f"local://{outside}", f"file://{outside}", f"local:///{climb}"):
        with pytest.raises(Exception, match=r"not a valid file system URI|must be a directory"):
            trino_lake.query(
                "create table hive.weblogs.outside_root (x varchar) with "
                f"(external_location = '{location}', format = 'CSV')"
            )
    assert ["outside_root"] not in trino_lake.query("show tables")


def test_an_artifact_is_kept_only_when_its_sha1_is_the_pinned_one(tmp_path: Path) -> None:
    good = b"the real artifact"
    artifact = server.Artifact(
        "io/trino/x/1/x-1.tar.gz", hashlib.sha1(good, usedforsecurity=False).hexdigest(), len(good)
    )
    assert artifact.coordinates == "io.trino:x:1:tar.gz"
    repository = tmp_path / "m2"
    stored = repository / artifact.path
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"tampered bytes")
    with pytest.raises(server.TrinoError, match=r"SHA-1 .* expected .* file removed"):
        server.fetch(artifact, repository)
    assert not stored.exists()
    stored.write_bytes(good)
    # Already in the local repository with the pinned SHA-1: Maven is not asked again.
    assert server.fetch(artifact, repository) == stored


def test_an_artifact_maven_central_does_not_have_is_one_clear_error() -> None:
    """Real Maven, real Maven Central: a version that was never published."""
    missing = server.Artifact("io/trino/trino-hive/0/trino-hive-0.zip", "0" * 40, 1)
    repository = server.cache_dir() / "m2"  # the plugin is there since the server was installed
    with pytest.raises(server.TrinoError, match=r"cannot fetch io\.trino:trino-hive:0:zip"):
        server.fetch(missing, repository)


def test_the_pinned_release_is_cached_and_a_recent_java_is_found() -> None:
    home = server.install()
    assert (home / ".complete").read_text().strip() == server.TRINO_VERSION
    assert (home / "plugin" / "hive").is_dir()
    assert sorted(p.name for p in (home / "plugin").iterdir()) == ["hive"]
    for artifact in server.ARTIFACTS:
        assert (server.cache_dir() / "m2" / artifact.path).stat().st_size == artifact.size
    java = server.java_home()
    assert (server._java_major(java) or 0) >= server.MIN_JAVA


def test_query_memory_follows_the_heap_and_a_bad_heap_is_one_clear_error() -> None:
    assert server.query_memory("3G") == "1843MB"
    assert server.query_memory("2048M") == "1228MB"
    for bad in ("3", "0G", "3 G", "3G; rm -rf /", "-1G"):
        with pytest.raises(server.TrinoError, match="heap must look like"):
            server.query_memory(bad)


def test_the_quick_jvm_differs_from_the_default_only_in_its_jit_and_collector(
    tmp_path: Path,
) -> None:
    """The tests' servers are `quick` (trino_helpers.py); `make trino` keeps the default.
    One collector each (two would stop the JVM), and a class archive of its own each."""
    default, quick = server.jvm_options("3G"), server.jvm_options("3G", quick=True)
    collectors = {"-XX:+UseG1GC", "-XX:+UseSerialGC", "-XX:+UseParallelGC", "-XX:+UseZGC"}
    assert [o for o in default if o in collectors] == ["-XX:+UseG1GC"]
    assert [o for o in quick if o in collectors] == ["-XX:+UseSerialGC"]
    assert "-XX:TieredStopAtLevel=1" in quick and not any("Tiered" in o for o in default)
    g1 = {"-XX:+UseG1GC", "-XX:G1HeapRegionSize=32M", "-XX:+ExplicitGCInvokesConcurrent"}
    assert [o for o in default if o not in g1] == [o for o in quick if o not in server.QUICK_JVM]
    home, jdk, etc = tmp_path / "home", tmp_path / "jdk", tmp_path / "etc"
    archives = {
        next(o for o in server._command(home, jdk, etc, "3G", quick=q) if "SharedArchive" in o)
        for q in (False, True)
    }
    assert len(archives) == 2, archives


@pytest.mark.parametrize("schema", ["Weblogs", "a.b", "x; drop schema weblogs", "", "a" * 256])
def test_a_schema_name_that_needs_quoting_never_reaches_sql(schema: str) -> None:
    with pytest.raises(ValueError, match="schema must match"):
        tables.events_table_sql("hive", schema)
    with pytest.raises(ValueError, match="schema must match"):
        tables.crm_table_sql("hive", schema, "customers")


def test_old_and_new_lake_files_read_together_by_column_name(
    trino_lake: TrinoLake, tmp_path: Path
) -> None:
    """Files written before `client_id` and `value` existed read them as null, next to
    new files (docs/contract.md#1-the-event), in the table and through the models'
    staging. Written years before the fixture, into a schema of their own, and
    removed afterwards: the other tests' lake stays as it was."""
    written = write_evolution_lake(trino_lake.lake, "evo-", timedelta(days=-2000))
    try:
        cursor = trino_lake.cursor()
        cursor.execute("create schema if not exists hive.evolution")
        cursor.fetchall()
        cursor.execute(tables.events_table_sql("hive", "evolution"))
        cursor.fetchall()
        keys = [p.relative_to(trino_lake.lake).as_posix() for p in written]
        added = tables.register_partitions(cursor, keys, schema="evolution", now=NOW)
        assert len(added.added) == len({p.parent for p in written}) and not added.rejected
        rows = trino_lake.query("select event_id, client_id, value from events", "evolution")
        assert sorted(tuple(r) for r in rows) == expected_rows("evo-")
        project = trino_lake.dbt(tmp_path / "dbt", "evolution_models")
        project.env["WEBLOGS_GLUE_DATABASE"] = "evolution"
        assert shown(project, "2021-04-11", "2021-04-15") == expected_rows("evo-")
    finally:
        for path in written:
            path.unlink()
