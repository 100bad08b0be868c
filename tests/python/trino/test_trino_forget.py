"""After `weblogs forget` and the next scheduled run on Trino, no table of the warehouse
holds the user (docs/contract.md section 7), and everyone else's rows are as they were.

The forget lake (forget_helpers.py: the user in every place) is mounted beside the
shared server's own lake and declared in a schema of its own. The daily command
(`python -m weblogs models --target trino`, its clock set after the lake's arrivals)
builds the marts with the user in them; the erasure records the touched dates as
arrivals; the next day's scheduled run rebuilds them whole. Then every string column
of every table and view of the warehouse and of the lake's own tables is searched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from forget_helpers import NEEDLES, SESSIONS, USER, build_lake
from trino_helpers import TrinoLake

from weblogs.adapters.forget import forget
from weblogs.adapters.lake import LocalLake
from weblogs.trino import server, tables

pytestmark = pytest.mark.slow

SOURCE, SCHEMA = "forget_lake", "forget_marts"


def scheduled_run(trino_lake: TrinoLake, lake: Path, now: str) -> str:
    """The daily command on the trino target, its clock at `now`."""
    env = {
        **os.environ,
        "WEBLOGS_DBT_TARGET": "trino",
        "WEBLOGS_TRINO_PORT": str(trino_lake.server.port),
        "WEBLOGS_TRINO_SCHEMA": SCHEMA,
        "WEBLOGS_GLUE_DATABASE": SOURCE,
        "WEBLOGS_LAKE_ROOT": str(lake),
        "WEBLOGS_NOW": now,
    }
    env.pop("WEBLOGS_ALARM_TOPIC_ARN", None)
    done = subprocess.run(
        [sys.executable, "-m", "weblogs", "models", "--target", "trino", "--lake", str(lake)],
        capture_output=True, text=True, check=False, env=env, cwd=lake.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    return done.stdout


def warehouse_hits(trino_lake: TrinoLake) -> tuple[list[str], int]:
    """Every table and column of the warehouse and the lake's tables whose text mentions
    the user; and how many tables were searched."""
    columns = trino_lake.query(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in ('{SOURCE}', '{SCHEMA}') and data_type like 'varchar%' "
        "and table_name not like '%$%'"
    )
    by_table: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in columns:
        by_table.setdefault((schema, table), []).append(column)
    hits = []
    for (schema, table), names in by_table.items():
        # One query a table: every value of each of its text columns (one Trino query
        # costs more than the scan of these small tables).
        listed = ", ".join(f'"{name}"' for name in names)
        for row in trino_lake.query(f'select distinct {listed} from {schema}."{table}"', schema):
            for column, value in zip(names, row, strict=True):
                if value is not None and any(needle in value for needle in NEEDLES):
                    hits.append(f"{schema}.{table}.{column}: {value}")
    return hits, len(by_table)


def others_rows(trino_lake: TrinoLake) -> list[list[Any]]:
    return trino_lake.query(
        "select * from engagement_metrics where session_id not in "
        f"({', '.join(repr(s) for s in SESSIONS)}) order by session_id, session_date",
        SCHEMA,
    )


def test_the_next_scheduled_run_on_trino_leaves_no_trace_of_the_user(
    trino_lake: TrinoLake, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    build_lake(LocalLake(lake), str(lake), tmp_path / "work")
    server.mount_lake(trino_lake.server, "forget", lake)
    tables.declare_lake(
        trino_lake.cursor(), lake, trino_lake.server.root, schema=SOURCE, mount="forget"
    )
    first = scheduled_run(trino_lake, lake, "2026-10-05T00:30:00Z")
    assert "weblogs models: sessions from 2026-10-0" in first, first[:2000]
    hits, searched = warehouse_hits(trino_lake)
    assert any(USER in hit for hit in hits) and searched > 20
    before = others_rows(trino_lake)
    assert before

    outcome = forget(LocalLake(lake), USER, now=datetime(2026, 10, 5, 10, 0, tzinfo=UTC))
    assert outcome.dates == ["2026-10-02", "2026-10-03"]
    # What `python -m weblogs.trino register` does: the CRM tables read the rewritten
    # extracts (Glue's tables read the S3 folder itself); no new partition.
    again = tables.declare_lake(
        trino_lake.cursor(), lake, trino_lake.server.root, schema=SOURCE, mount="forget"
    )
    assert again.added == []
    second = scheduled_run(trino_lake, lake, "2026-10-06T00:30:00Z")
    # The erasure's arrivals: the touched dates are rebuilt whole.
    window = second.split("weblogs models: sessions from ", 1)[1][:24]
    assert window[:10] <= "2026-10-02" and window[14:] >= "2026-10-03", second[:2000]

    assert warehouse_hits(trino_lake)[0] == []
    assert others_rows(trino_lake) == before
