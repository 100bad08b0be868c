"""The marts Athena built, read as Parquet on S3 by DuckDB (docs/dashboards.md, Athena).

dbt-athena writes each mart under a location of its own (a fresh prefix per rebuild),
so the Glue catalog, not a naming rule, says where a table is. Each table the pages
read becomes an in-memory DuckDB view over the files at its Glue location (hive
partitions included), read with the pinned `httpfs` extension (PyPI
`duckdb-extension-httpfs`, loaded from its file: nothing is downloaded). Credentials
and endpoint are boto3's (the AWS credential chain, `AWS_ENDPOINT_URL`); no Athena query
runs, so a build costs no Athena scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from weblogs.adapters import aws
from weblogs.dashboard.readers import NAME, DuckDbReader, ReaderError, first_line

#: Glue column types DuckDB spells the same way (an empty table's view keeps them).
_TYPE = re.compile(r"^(bigint|integer|int|smallint|tinyint|double|float|boolean|date|timestamp"
                   r"|decimal\(\d{1,2}, ?\d{1,2}\))$")  # fmt: skip


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def duck_type(glue_type: str) -> str:
    """A Glue column type as DuckDB's; text for anything else (arrays, maps, strings)."""
    kind = glue_type.strip().lower()
    if not _TYPE.match(kind):
        return "varchar"
    return {"int": "integer", "float": "real"}.get(kind, kind)


def httpfs_path() -> Path:
    """The httpfs extension file of the pinned PyPI package."""
    try:
        import duckdb_extension_httpfs
    except ImportError as exc:
        raise ReaderError("--athena needs duckdb-extension-httpfs (make venv)") from exc
    root = Path(duckdb_extension_httpfs.__file__).parent
    found = sorted(root.glob("extensions/*/httpfs.duckdb_extension"))
    if not found:
        raise ReaderError(f"no httpfs extension under {root}")
    return found[-1]


def s3_secret(s3: Any) -> str:
    """DuckDB's S3 secret from boto3's credentials, region and endpoint."""
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ReaderError("--athena: no AWS credentials (the AWS credential chain found none)")
    frozen = credentials.get_frozen_credentials()
    parts = {
        "KEY_ID": frozen.access_key,
        "SECRET": frozen.secret_key,
        "REGION": s3.meta.region_name or "us-east-1",
    }
    if frozen.token:
        parts["SESSION_TOKEN"] = frozen.token
    endpoint = urlsplit(s3.meta.endpoint_url or "")
    if endpoint.hostname and not endpoint.hostname.endswith(".amazonaws.com"):
        parts["ENDPOINT"] = endpoint.netloc
        parts["URL_STYLE"] = "path"
        parts["USE_SSL"] = "true" if endpoint.scheme == "https" else "false"
    options = ", ".join(f"{k} {v if k == 'USE_SSL' else sql_text(v)}" for k, v in parts.items())
    return f"create secret weblogs_athena (type s3, {options})"


def table_files(s3: Any, location: str) -> list[str]:
    """The data files under a table's S3 location (hidden and marker files left out)."""
    parts = urlsplit(location)
    if parts.scheme not in ("s3", "s3a") or not parts.netloc:
        raise ReaderError(f"--athena: table location is not on S3: {location!r}")
    prefix = parts.path.lstrip("/")
    prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=parts.netloc, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if name and not name.startswith(("_", ".")) and not name.endswith("$folder$"):
                files.append(f"s3://{parts.netloc}/{item['Key']}")
    return files


def view_sql(name: str, table: dict[str, Any], files: list[str]) -> str:
    """A view of one Glue table: its files read as hive-partitioned Parquet, or empty."""
    if files:
        listed = ", ".join(sql_text(f) for f in files)
        return (
            f"create view {name} as select * from read_parquet([{listed}],"
            " hive_partitioning = true, union_by_name = true)"
        )
    columns = table["StorageDescriptor"].get("Columns", []) + table.get("PartitionKeys", [])
    typed = ", ".join(
        f"cast(null as {duck_type(c.get('Type', 'string'))}) as {c['Name']}"
        for c in columns
        if NAME.match(c["Name"])
    )
    if not typed:
        raise ReaderError(f"--athena: table {name} has no columns in Glue")
    return f"create view {name} as select {typed} where false"


class AthenaParquetReader(DuckDbReader):
    """The Glue database's tables as views of an in-memory DuckDB over their S3 files."""

    hint = ""

    def __init__(self, database: str, tables: Iterable[str]) -> None:
        import botocore.exceptions
        import duckdb

        if not NAME.match(database):
            raise ReaderError(f"--athena database must be a lower-case name, got {database!r}")
        self.name = f"athena:{database}"
        self.con = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        try:
            self.con.execute(f"load {sql_text(str(httpfs_path()))}")
            glue, s3 = aws.client("glue"), aws.client("s3")
            self.con.execute(s3_secret(s3))
            for name in sorted(set(tables)):
                table = glue.get_table(DatabaseName=database, Name=name)["Table"]
                location = table["StorageDescriptor"].get("Location", "")
                self.con.execute(view_sql(name, table, table_files(s3, location)))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self.con.close()
            raise ReaderError(f"{self.name}: {first_line(exc)}") from exc
        except (duckdb.Error, ReaderError) as exc:
            self.con.close()
            raise ReaderError(f"{self.name}: {first_line(exc)}") from exc
