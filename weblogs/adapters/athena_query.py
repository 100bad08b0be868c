"""One Athena query over boto3, its rows typed by the result's column types.

The runner reads the run log and the headline figures of the athena target
this way (no DuckDB, no dbt adapter needed after the build).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from weblogs.adapters import aws
from weblogs.core.errors import ModelsError

#: How long one read may run (the headline queries scan the marts, never the events).
QUERY_TIMEOUT_SECONDS = 300
_INTEGER = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOAT = {"double", "float", "real", "decimal"}


def _typed(value: str | None, column_type: str) -> Any:
    if value is None:
        return None
    kind = column_type.lower()
    if kind in _INTEGER:
        return int(value)
    if kind in _FLOAT:
        return float(Decimal(value))
    if kind == "boolean":
        return value == "true"
    return value


def run_query(
    sql: str,
    *,
    region: str,
    workgroup: str,
    output: str,
    catalog: str,
    database: str,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` in `database`; returns (column names, typed rows). ModelsError if it fails."""
    athena = aws.client("athena", region)
    started = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Catalog": catalog, "Database": database},
        WorkGroup=workgroup,
        ResultConfiguration={"OutputLocation": output},
    )
    query_id = started["QueryExecutionId"]
    deadline = time.monotonic() + QUERY_TIMEOUT_SECONDS
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason", "no reason given")
            raise ModelsError(f"Athena query {query_id} {state.lower()}: {reason}")
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise ModelsError(
                f"Athena query {query_id} still running after {QUERY_TIMEOUT_SECONDS}s"
            )
        sleep(0.5)
    columns: list[str] = []
    types: list[str] = []
    rows: list[tuple[Any, ...]] = []
    paginator = athena.get_paginator("get_query_results")
    for page in paginator.paginate(QueryExecutionId=query_id):
        result = page["ResultSet"]
        if not columns:
            info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [c["Name"] for c in info]
            types = [c["Type"] for c in info]
        for row in result.get("Rows", []):
            values = [d.get("VarCharValue") for d in row.get("Data", [])]
            if values == columns and not rows:
                continue  # Athena repeats the header as the first row of a SELECT
            rows.append(tuple(_typed(v, t) for v, t in zip(values, types, strict=False)))
    return columns, rows
