"""The lake as Hive tables on Trino, declared as the Glue catalog declares it on AWS.

`EVENTS_COLUMNS`, `PARTITION_KEYS` and `CRM_TABLES` carry the Glue (Hive)
types of deploy/template.yaml; a test holds the two equal, so the dbt project
sees the same columns, types and partitioning on Trino as on Athena.

Partitions are registered the way production does it: the keys of the lake's
objects go through the s3toathena Lambda's strict key parser
(`weblogs.core.partitions`), and only the partitions of those keys that are not
registered yet are added (the Lambda's `ADD IF NOT EXISTS`), one
`system.register_partition` call each. Nothing scans and repairs the whole
table behind the catalog's back.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from weblogs.core import layout
from weblogs.core.partitions import (
    PARTITION_KEYS,
    Partition,
    Rejected,
    parse_partition_key,
    unique_partitions,
    validate_identifier,
)

#: The events table's data columns, with their Glue types (deploy/template.yaml).
EVENTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "string"),
    ("session_id", "string"),
    ("user_id", "string"),
    ("is_anonymous_user", "boolean"),
    ("event_type", "string"),
    ("page_url", "string"),
    ("referrer", "string"),
    ("event_timestamp", "timestamp"),
    ("device_type", "string"),
    ("browser", "string"),
    ("os", "string"),
    ("country", "string"),
    ("client_id", "string"),
    ("value", "decimal(38,18)"),
    ("extra_attributes", "string"),
    ("ingested_at", "timestamp"),
)
#: The events table's partition columns (all `string` in Glue).
EVENTS_PARTITION_KEYS: tuple[str, ...] = PARTITION_KEYS
#: The CRM tables (CSV with a header line, every column text), by table name.
CRM_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (
        ("user_id", "string"),
        ("customer_id", "string"),
        ("loyalty_tier", "string"),
        ("is_loyalty_member", "string"),
        ("signup_date", "string"),
    ),
    "ratings": (
        ("user_id", "string"),
        ("rated_at", "string"),
        ("rating", "string"),
    ),
}
#: Glue (Hive) type -> the type Trino's Hive connector gives the column.
TRINO_TYPES = {
    "string": "varchar",
    "boolean": "boolean",
    "timestamp": "timestamp(3)",
    "decimal(38,18)": "decimal(38,18)",
}
#: The bucket name the key parser is given: locally the lake root plays the bucket.
_LAKE_BUCKET = "lake"
#: The folder of the catalog's root that links to the server's own lake (server.py).
LAKE_MOUNT = "lake"


def crm_folder(mount: str = LAKE_MOUNT) -> str:
    """The folder of the catalog's root holding the CRM tables of the lake at `mount`."""
    validate_identifier(mount, "mount")
    return layout.CRM if mount == LAKE_MOUNT else f"{mount}-{layout.CRM}"


class Cursor(Protocol):
    def execute(self, operation: str, params: Any = ...) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass
class Registration:
    """What one registration pass did: partitions added, already there, keys rejected."""

    added: list[Partition] = field(default_factory=list)
    already: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        rejected = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.rejected.items()))
        return f"{len(self.added)} partition(s) added, {self.already} already registered" + (
            f", keys rejected ({rejected})" if rejected else ""
        )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns_sql(columns: Iterable[tuple[str, str]]) -> str:
    return ",\n    ".join(f"{name} {TRINO_TYPES[kind]}" for name, kind in columns)


def events_table_sql(
    catalog: str, schema: str, table: str = layout.EVENTS, *, mount: str = LAKE_MOUNT
) -> str:
    """CREATE TABLE of the events: Snappy Parquet under `<mount>/events/`, by hour."""
    for name, what in (
        (catalog, "catalog"), (schema, "schema"), (table, "table"), (mount, "mount")
    ):  # fmt: skip
        validate_identifier(name, what)
    columns = [*EVENTS_COLUMNS, *((key, "string") for key in EVENTS_PARTITION_KEYS)]
    keys = ", ".join(_quote(key) for key in EVENTS_PARTITION_KEYS)
    return (
        f"create table if not exists {catalog}.{schema}.{table} (\n    {_columns_sql(columns)}\n)\n"
        f"with (\n    external_location = 'local:///{mount}/events',\n    format = 'PARQUET',\n"
        f"    partitioned_by = array[{keys}]\n)"
    )


def crm_table_sql(catalog: str, schema: str, table: str, *, mount: str = LAKE_MOUNT) -> str:
    """CREATE TABLE of a CRM extract: CSV with a header line, as Glue's OpenCSVSerde reads it."""
    for name, what in ((catalog, "catalog"), (schema, "schema"), (table, "table")):
        validate_identifier(name, what)
    return (
        f"create table if not exists {catalog}.{schema}.{table} (\n"
        f"    {_columns_sql(CRM_TABLES[table])}\n)\n"
        f"with (\n    external_location = 'local:///{crm_folder(mount)}/{table}',\n"
        "    format = 'CSV',\n"
        "    skip_header_line_count = 1,\n    csv_separator = ',',\n"
        "    csv_quote = '\"',\n    csv_escape = '\\'\n)"
    )


def lake_keys(lake: Path) -> Iterator[str]:
    """Every object key under `lake/events/`, as the bucket would name it."""
    events = lake / layout.EVENTS
    if not events.is_dir():
        return
    for path in sorted(events.rglob("*")):
        if path.is_file():
            yield path.relative_to(lake).as_posix()


def registered_partitions(cursor: Cursor, catalog: str, schema: str, table: str) -> set[Partition]:
    cursor.execute(f'select year, month, day, hour from {catalog}.{schema}."{table}$partitions"')
    return {Partition(*(int(value) for value in row)) for row in cursor.fetchall()}


def register_partitions(
    cursor: Cursor,
    keys: Iterable[str],
    *,
    catalog: str = "hive",
    schema: str = "weblogs",
    table: str = layout.EVENTS,
    now: datetime | None = None,
    mount: str = LAKE_MOUNT,
) -> Registration:
    """Add the partitions of `keys` that the table does not have yet (keys parsed as on AWS)."""
    now = now or datetime.now(UTC)
    validate_identifier(mount, "mount")
    result = Registration()
    parsed: list[Partition] = []
    for key in keys:
        outcome = parse_partition_key(_LAKE_BUCKET, key, expected_bucket=_LAKE_BUCKET, now=now)
        if isinstance(outcome, Rejected):
            result.rejected[outcome.reason] += 1
        else:
            parsed.append(outcome)
    existing = registered_partitions(cursor, catalog, schema, table)
    for part in unique_partitions(parsed):
        if part in existing:
            result.already += 1
            continue
        names = ", ".join(_quote(key) for key in EVENTS_PARTITION_KEYS)
        values = ", ".join(_quote(value) for value in part.values)
        cursor.execute(
            f"call {catalog}.system.register_partition("
            f"schema_name => {_quote(schema)}, table_name => {_quote(table)}, "
            f"partition_columns => array[{names}], partition_values => array[{values}], "
            f"location => {_quote(f'local:///{mount}/' + part.prefix.rstrip('/'))})"
        )
        cursor.fetchall()
        result.added.append(part)
    return result


def copy_crm_extracts(lake: Path, root: Path, mount: str = LAKE_MOUNT) -> list[str]:
    """Each `lake/crm/<table>.csv` into the CRM table's folder `<root>/crm/<table>/`
    (`<root>/<mount>-crm/<table>/` for a lake mounted beside the server's own).

    Glue's CSV tables read every file of a folder (`crm/customers/` on S3); the
    local lake keeps one file per extract, so the file is copied into a folder of
    its own. A table whose extract is missing stays empty.
    """
    copied = []
    for table in CRM_TABLES:
        folder = root / crm_folder(mount) / table
        folder.mkdir(parents=True, exist_ok=True)
        source = lake / layout.CRM / f"{table}.csv"
        target = folder / f"{table}.csv"
        if source.is_file():
            shutil.copyfile(source, target)
            copied.append(table)
        else:
            target.unlink(missing_ok=True)
    return copied


def declare_lake(
    cursor: Cursor,
    lake: Path,
    root: Path,
    *,
    catalog: str = "hive",
    schema: str = "weblogs",
    mount: str = LAKE_MOUNT,
) -> Registration:
    """Create the schema and the lake's tables if missing, refresh CRM, register new partitions.

    `mount` is the folder of the catalog's root that links to `lake` (server.mount_lake
    for a lake other than the server's own)."""
    validate_identifier(schema, "schema")
    cursor.execute(f"create schema if not exists {catalog}.{schema}")
    cursor.fetchall()
    cursor.execute(events_table_sql(catalog, schema, mount=mount))
    cursor.fetchall()
    copy_crm_extracts(lake, root, mount)
    for table in CRM_TABLES:
        cursor.execute(crm_table_sql(catalog, schema, table, mount=mount))
        cursor.fetchall()
    return register_partitions(cursor, lake_keys(lake), catalog=catalog, schema=schema, mount=mount)
