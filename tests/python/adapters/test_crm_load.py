"""`weblogs crm load`: every problem reported with file and line, all or nothing, and a
good load is what the next real `dbt build` joins (local lake and S3 through moto)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_helpers import (
    CUSTOMERS,
    END,
    MARTS,
    RATINGS,
    START,
    WEBLOGS,
    DbtProject,
    build_fixture_lake,
    reference_marts,
)

from weblogs.core.crm import COLUMNS, parse_iso8601

GOOD_RATINGS = [r for r in RATINGS if r[2] not in ("0", "6") and r[1] != "not a date"]
#: CUSTOMERS as a load writes them: trimmed, tier and member flag lower-cased.
CANONICAL_CUSTOMERS = [CUSTOMERS[0]] + [
    (u, c, tier.strip().lower(), flag.strip().lower(), day)
    for u, c, tier, flag, day in CUSTOMERS[1:]
]


def crm_load(lake: str | Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [WEBLOGS, "crm", "load", "--lake", str(lake), *args],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def as_csv(rows: list[tuple[str, ...]], line_end: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=line_end).writerows(rows)
    return out.getvalue()


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    (lake / "crm").mkdir(parents=True)
    write(lake / "crm" / "customers.csv", as_csv(CUSTOMERS))
    write(lake / "crm" / "ratings.csv", as_csv(GOOD_RATINGS))
    return lake


def test_every_problem_is_one_line_with_file_and_line_and_nothing_changes(
    lake: Path, tmp_path: Path
) -> None:
    customers = write(
        tmp_path / "customers.csv",
        b"customer_id,user_id,loyalty_tier,is_loyalty_member,signup_date\n"  # 1 any order
        b"C-1,u-1,gold,true,2024-01-01\n"  # 2 fine
        b"C-2,u-2,platinum,true,2024-01-01\n"  # 3 tier
        b"C-3,u-3,silver,yes,2024-01-01\n"  # 4 member flag
        b"C-4,u-4,none,false,2024-02-30\n"  # 5 not a real date
        b"C-5,u-5,none,false,2024-1-05\n"  # 6 not YYYY-MM-DD
        b"C-6, u-1 ,bronze,false,2024-01-01\n"  # 7 duplicate of line 2 after trimming
        b"C-7,,bronze,false,2024-01-01\n"  # 8 empty user id
        b"C-8,u-8,bronze,false\n"  # 9 too few fields
        b"C-9,u-\xff,none,false,2024-01-01\n"  # 10 not UTF-8
        b'C-10,"u-10,none,false,2024-01-01\n'  # 11 unterminated quote
        b"C-11,u\\11,none,false,2024-01-01\n"  # 12 backslash
        b"\n"  # 13 empty line
        b"C-12,u-12,Gold,FALSE,2024-12-31\n",  # 14 fine (any case)
    )
    ratings = write(
        tmp_path / "ratings.csv",
        "rating,user_id,rated_at\n"  # 1
        "4.5,u-1,2026-10-02T10:00:00Z\n"  # 2
        "five,u-1,2026-10-02T10:00:00Z\n"  # 3
        "0,u-1,2026-10-02T10:00:00Z\n"  # 4
        "\u0663,u-1,2026-10-02T10:00:00Z\n"  # 5 Arabic-Indic three
        "6,u-1,2026-10-02T10:00:00Z\n"  # 6
        " 3 ,u-1,2026-10-02T10:00:00+02:00\n"  # 7 fine (trimmed)
        "3,u-1,yesterday\n"  # 8
        "3,u-1,2026-13-01T00:00:00Z\n"  # 9
        "3,u-1,2026-10-02 10:00:00\n"  # 10 space: Athena cannot read it
        "3,u-1,2026-10-02\n",  # 11 fine: a date is midnight UTC
    )
    before = tree(lake)
    done = crm_load(lake, "--customers", str(customers), "--ratings", str(ratings))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    c, r = str(customers), str(ratings)
    expected = [
        f"{c}:3: loyalty_tier 'platinum' is not one of none, bronze, silver, gold (or empty)",
        f"{c}:4: is_loyalty_member 'yes' is not true or false",
        f"{c}:5: signup_date '2024-02-30' is not a date YYYY-MM-DD",
        f"{c}:6: signup_date '2024-1-05' is not a date YYYY-MM-DD",
        f"{c}:7: user_id 'u-1' already on line 2",
        f"{c}:8: user_id is empty",
        f"{c}:9: 4 fields, the header has 5",
        f"{c}:10: not UTF-8 (byte 7)",
        f"{c}:12: user_id 'u\\\\11' contains a backslash (Athena's CSV reader takes it as an escape)",
        f"{c}:13: empty line",
        f"{r}:2: rating '4.5' is not one of 1, 2, 3, 4, 5 (one ASCII digit)",
        f"{r}:3: rating 'five' is not one of 1, 2, 3, 4, 5 (one ASCII digit)",
        f"{r}:4: rating '0' is not one of 1, 2, 3, 4, 5 (one ASCII digit)",
        f"{r}:5: rating '\u0663' is not one of 1, 2, 3, 4, 5 (one ASCII digit)",
        f"{r}:6: rating '6' is not one of 1, 2, 3, 4, 5 (one ASCII digit)",
        f"{r}:8: rated_at 'yesterday' is not an ISO-8601 date or time",
        f"{r}:9: rated_at '2026-13-01T00:00:00Z' is not an ISO-8601 date or time",
        f"{r}:10: rated_at '2026-10-02 10:00:00' is not an ISO-8601 date or time",
    ]
    for line in expected:
        assert line in lines, (line, lines)
    assert any(line.startswith(f"{c}:11: unreadable CSV") for line in lines), lines
    assert lines[-1] == f"crm load: {len(expected) + 1} problem(s); nothing was changed in {lake}"
    assert len(lines) == len(expected) + 2
    assert tree(lake) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty (no header line)"),
        (b"user_id,customer_id,loyalty_tier,signup_date\n", "1: missing column is_loyalty_member"),
        (
            b"user_id,customer_id,loyalty_tier,signup_date\nu-1,C-1,gold,2024-01-01\n",
            "1: missing column is_loyalty_member",
        ),
        (
            b"user_id,customer_id,loyalty_tier,is_loyalty_member,signup_date,User_ID\n",
            "1: column user_id appears twice in the header",
        ),
        (b"user_id," + b"x" * 70_000 + b"\n", "1: line longer than 65536 bytes"),
    ],
)
def test_malformed_headers_are_rejected(
    lake: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    before = tree(lake)
    path = write(tmp_path / "customers.csv", content)
    done = crm_load(lake, "--customers", str(path))
    assert done.returncode == 2
    assert f"{path}:{message}" in done.stderr or f"{path}: {message}" in done.stderr, done.stderr
    assert tree(lake) == before


def test_a_missing_file_or_no_file_is_one_line(lake: Path, tmp_path: Path) -> None:
    done = crm_load(lake, "--ratings", str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert f"{tmp_path / 'nope.csv'}: cannot be read: No such file or directory" in done.stderr
    done = crm_load(lake)
    assert done.returncode == 2
    assert done.stderr.strip() == "weblogs crm: error: give --customers and/or --ratings"


def test_a_good_load_is_canonical_snapshotted_and_atomic(lake: Path, tmp_path: Path) -> None:
    # Any column order, an extra column, a byte-order mark, CRLF, values in any case.
    header = ("signup_date", "note", "is_loyalty_member", "user_id", "loyalty_tier", "customer_id")
    rows = [header, ("2024-01-01", "vip", "TRUE", "u-1", " Gold ", "C-1")]
    rows.append(("2024-01-02", "", "false", "u-2", "", "C-2"))
    path = write(tmp_path / "export.csv", b"\xef\xbb\xbf" + as_csv(rows, "\r\n").encode())
    done = crm_load(lake, "--customers", str(path))
    assert done.returncode == 0, done.stderr
    assert "columns not in the contract left out: note" in done.stdout
    current = (lake / "crm" / "customers.csv").read_text()
    assert current == (
        "user_id,customer_id,loyalty_tier,is_loyalty_member,signup_date\n"
        "u-1,C-1,gold,true,2024-01-01\n"
        "u-2,C-2,,false,2024-01-02\n"
    )
    (snapshot,) = (lake / "crm" / "snapshots").iterdir()
    assert (snapshot / "customers.csv").read_text() == current
    assert not (snapshot / "ratings.csv").exists()
    assert (lake / "crm" / "ratings.csv").read_text() == as_csv(GOOD_RATINGS)
    assert not [p for p in lake.rglob(".tmp-*")]
    second = crm_load(lake, "--customers", str(path), "--ratings", str(lake / "crm/ratings.csv"))
    assert second.returncode == 0, second.stderr
    assert len(list((lake / "crm" / "snapshots").iterdir())) == 2


def test_accepted_times_mean_the_same_on_duckdb() -> None:
    """What the loader accepts as rated_at, DuckDB parses to the same UTC time (the
    models' rule: an offset or Z is converted, no offset is UTC)."""
    texts = [
        "2026-10-02",
        "2026-10-02T10:00:00",
        "2026-10-02T10:00:00Z",
        "2026-10-02T10:00:00.5Z",
        "2026-10-02T10:00:00.123456+02:00",
        "2026-10-02T10:00:00-0130",
        "2026-10-02T23:30:00-01",
    ]
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    for text in texts:
        (duck,) = con.execute(
            """
            select case
                when regexp_matches($1, '([+-][0-9]{2}(:?[0-9]{2})?|[zZ])$')
                    then try_cast(try_cast($1 as timestamptz) at time zone 'UTC' as timestamp)
                else try_cast($1 as timestamp)
            end
            """,
            [text],
        ).fetchone()
        assert duck == parse_iso8601(text), text
    for bad in (
        "2026-10-02T10:00:00z",
        "2026-10-02T10:00",
        "2026-10-02t10:00:00",
        "2026-10-02T25:00:00",
        "20261002",
    ):
        assert parse_iso8601(bad) is None, bad


def test_a_good_load_is_what_the_next_build_joins(tmp_path: Path) -> None:
    lake = build_fixture_lake(tmp_path)
    customers = [r if r[0] != "u-b" else ("u-b", "C-6", "gold", "true", r[4]) for r in CUSTOMERS]
    customers.append(("u-a", "C-8", "bronze", "true", "2026-01-01"))
    ratings = [*GOOD_RATINGS, ("u-b", "2026-10-03T12:00:00Z", "5")]
    c = write(tmp_path / "c.csv", as_csv(customers))
    r = write(tmp_path / "r.csv", as_csv(ratings))
    done = crm_load(lake, "--customers", str(c), "--ratings", str(r))
    assert done.returncode == 0, done.stderr
    project = DbtProject(tmp_path / "dbt", lake)
    project.build(START, END)
    (row,) = project.query(
        "select loyalty_tier, is_loyalty_member, avg_rating, ratings_count "
        "from main.loyalty_metrics where user_id = 'u-b'"
    )
    assert row == ("gold", True, 5.0, 1)
    reference = reference_marts(lake, START, END)
    for mart in MARTS:
        assert len(project.table(mart, "1")) == len(reference[mart]), mart


def test_load_to_s3_replaces_the_glue_folders_and_keeps_snapshots(
    moto_server: Any, tmp_path: Path
) -> None:
    moto_server.reset()
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="crm/customers/old-export.csv", Body=b"stale")
    s3.put_object(Bucket="lake", Key="events/year=2026/month=10/day=02/hour=10/x.parquet", Body=b"")
    env = {**os.environ, **moto_server.env}

    def listing() -> dict[str, str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="lake")
        return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}

    bad = write(tmp_path / "bad.csv", as_csv([COLUMNS["ratings"], ("u-1", "2026-10-02", "7")]))
    before = listing()
    done = crm_load("s3://lake", "--ratings", str(bad), env=env)
    assert done.returncode == 2
    assert f"{bad}:2: rating '7' is not one of 1, 2, 3, 4, 5 (one ASCII digit)" in done.stderr
    assert listing() == before

    c = write(tmp_path / "customers.csv", as_csv(CUSTOMERS))
    r = write(tmp_path / "ratings.csv", as_csv(GOOD_RATINGS))
    started = datetime.now(UTC)
    done = crm_load("s3://lake", "--customers", str(c), "--ratings", str(r), env=env)
    assert done.returncode == 0, done.stderr
    keys = listing()
    assert "crm/customers/old-export.csv" not in keys
    assert "removed crm/customers/old-export.csv" in done.stdout
    body = s3.get_object(Bucket="lake", Key="crm/customers/customers.csv")["Body"].read()
    assert body.decode() == as_csv(CANONICAL_CUSTOMERS)
    ratings = s3.get_object(Bucket="lake", Key="crm/ratings/ratings.csv")["Body"].read()
    assert ratings.decode() == as_csv(GOOD_RATINGS)
    snapshots = sorted(k for k in keys if k.startswith("crm/snapshots/"))
    assert [k.rsplit("/", 1)[1] for k in snapshots] == ["customers.csv", "ratings.csv"]
    stamp = snapshots[0].split("/")[2]
    loaded = datetime.strptime(stamp, "%Y-%m-%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    assert started <= loaded <= datetime.now(UTC)
    assert (
        keys["events/year=2026/month=10/day=02/hour=10/x.parquet"]
        == before["events/year=2026/month=10/day=02/hour=10/x.parquet"]
    )


def test_source_freshness_is_the_time_of_the_last_load(lake: Path, tmp_path: Path) -> None:
    """Fresh after a load; a warning once the files are older than the configured days;
    a bad value of the setting stops the check with one clear line."""
    c = write(tmp_path / "c.csv", as_csv(CUSTOMERS))
    r = write(tmp_path / "r.csv", as_csv(GOOD_RATINGS))
    assert crm_load(lake, "--customers", str(c), "--ratings", str(r)).returncode == 0
    project = DbtProject(tmp_path / "dbt", lake)

    def statuses(*extra: str) -> list[str]:
        project.run("source", "freshness", "--select", "source:crm", *extra)
        results = json.loads((project.target_path / "sources.json").read_text())["results"]
        return sorted(f"{r['unique_id'].rsplit('.', 1)[1]}:{r['status']}" for r in results)

    assert statuses() == ["customers:pass", "ratings:pass"]
    ten_days_ago = time.time() - 10 * 86_400
    os.utime(lake / "crm" / "customers.csv", (ten_days_ago, ten_days_ago))
    assert statuses() == ["customers:warn", "ratings:pass"]
    assert statuses("--vars", "{crm_freshness_warn_days: 11}") == [
        "customers:pass",
        "ratings:pass",
    ]
    done = project.run(
        "source", "freshness", "--select", "source:crm", "--vars", "{crm_freshness_warn_days: 0}",
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "var crm_freshness_warn_days must be a whole number of days from 1 to 9999, got '0'" in (
        done.stdout
    )
    assert "Traceback" not in done.stdout + done.stderr
