"""The semantic layer's metrics (models/semantic/_semantic.yml), answered by MetricFlow.

`dbt parse` writes target/semantic_manifest.json; MetricFlow plans each metric's SQL
from it and this module runs that SQL on the DuckDB warehouse. The tests hold these
answers equal to the marts' columns and to the dashboard's figures, so a metric has one
definition whichever of the three shows it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class MetricsError(Exception):
    """A metric that cannot be answered (no manifest, unknown metric, bad dates)."""


class DuckDbSqlClient:
    """MetricFlow's SqlClient protocol over one DuckDB connection (no bind parameters)."""

    def __init__(self, con: Any) -> None:
        self.con = con

    @property
    def sql_engine_type(self) -> Any:
        from metricflow.protocols.sql_client import SqlEngine

        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self) -> Any:
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

        return DuckDbSqlPlanRenderer()

    def query(self, stmt: str, sql_bind_parameter_set: Any = None) -> Any:
        from metricflow.data_table.mf_table import MetricFlowDataTable

        self.reject_parameters(sql_bind_parameter_set)
        relation = self.con.sql(stmt)
        return MetricFlowDataTable.create_from_rows(relation.columns, relation.fetchall())

    def execute(self, stmt: str, sql_bind_parameter_set: Any = None) -> None:
        self.reject_parameters(sql_bind_parameter_set)
        self.con.execute(stmt)

    def dry_run(self, stmt: str, sql_bind_parameter_set: Any = None) -> None:
        self.reject_parameters(sql_bind_parameter_set)
        self.con.execute(f"explain {stmt}")

    def close(self) -> None:
        self.con.close()

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"

    @staticmethod
    def reject_parameters(parameters: Any) -> None:
        """The queries planned here carry their constants inline; anything else is a bug."""
        if parameters is not None and parameters.param_items:
            raise MetricsError("MetricFlow asked for bind parameters, which are not supported")


def load_manifest(path: Path, database: str | None = None) -> Any:
    """The semantic manifest `dbt parse` wrote (target/semantic_manifest.json).

    `database` points the semantic models at the catalog being queried: the manifest
    names the one of the target `dbt parse` ran on (a DuckDB file's stem).
    """
    from metricflow_semantic_interfaces.implementations.semantic_manifest import (
        PydanticSemanticManifest,
    )
    from metricflow_semantic_interfaces.transformations.semantic_manifest_transformer import (
        PydanticSemanticManifestTransformer,
    )

    if not path.is_file():
        raise MetricsError(f"no semantic manifest at {path}: run `make lint-semantic` (dbt parse)")
    raw = json.loads(path.read_text(encoding="utf-8"))
    for model in raw.get("semantic_models", []) if database else ():
        relation = model["node_relation"]
        relation["database"] = database
        relation["relation_name"] = ".".join(
            f'"{part}"' for part in (database, relation["schema_name"], relation["alias"])
        )
    manifest = PydanticSemanticManifest.parse_obj(raw)
    # dbt writes measures; MetricFlow plans from metrics that carry their aggregation.
    return PydanticSemanticManifestTransformer.transform(manifest)


def query_metrics(
    duckdb_path: Path,
    manifest_path: Path,
    metrics: Sequence[str],
    start: dt.date,
    end: dt.date,
    group_by: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The metrics over the session dates `start` .. `end` (inclusive), one row per group.

    `group_by` takes MetricFlow names (``metric_time__day``, ``session__channel``).
    """
    import duckdb
    from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    if start > end:
        raise MetricsError(f"start {start} is after end {end}")
    client = DuckDbSqlClient(duckdb.connect(str(duckdb_path), read_only=True))
    try:
        database = client.con.sql("select current_database()").fetchone()[0]
        lookup = SemanticManifestLookup(load_manifest(manifest_path, database))
        known = {m.name for m in lookup.semantic_manifest.metrics}
        unknown = sorted(set(metrics) - known)
        if unknown:
            raise MetricsError(f"unknown metrics {unknown}; the semantic layer has {sorted(known)}")
        engine = MetricFlowEngine(semantic_manifest_lookup=lookup, sql_client=client)
        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics),
            group_by_names=list(group_by) or None,
            time_constraint_start=dt.datetime.combine(start, dt.time()),
            time_constraint_end=dt.datetime.combine(end, dt.time()),
        )
        table = engine.query(request).result_df
    finally:
        client.close()
    return [dict(zip(table.column_names, row, strict=True)) for row in table.rows]
