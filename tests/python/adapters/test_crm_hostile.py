"""`weblogs crm load` against the hostile inputs of issue 26: what it loads is exactly
what the models read (checked with the staging models' own SQL on DuckDB), every bad
value is `file:line: reason`, never a traceback, and a load is all or nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_helpers import WEBLOGS
from mounts import read_only

from weblogs.core.crm import RATINGS, TIERS

HEADER_C = "user_id,customer_id,loyalty_tier,is_loyalty_member,signup_date\n"
HEADER_R = "user_id,rated_at,rating\n"
OLD_C = HEADER_C + "u-old,C-0,gold,true,2020-01-01\n"
OLD_R = HEADER_R + "u-old,2026-10-02T10:00:00Z,3\n"


def crm_load(lake: Path | str, *args: str) -> Any:
    return subprocess.run(
        [WEBLOGS, "crm", "load", "--lake", str(lake), *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    (lake / "crm").mkdir(parents=True)
    (lake / "crm" / "customers.csv").write_text(OLD_C)
    (lake / "crm" / "ratings.csv").write_text(OLD_R)
    return lake


def extracts(lake: Path) -> tuple[str, str]:
    return (lake / "crm/customers.csv").read_text(), (lake / "crm/ratings.csv").read_text()


def as_models_read(lake: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The staging models' expressions (trim, lower, the rating list) on the loaded files."""
    con = duckdb.connect()
    customers = con.execute(
        "select nullif(trim(user_id), ''), coalesce(lower(nullif(trim(loyalty_tier), '')), 'none')"
        " from read_csv(?, all_varchar = true, header = true)",
        [str(lake / "crm/customers.csv")],
    ).fetchall()
    ratings = con.execute(
        "select nullif(trim(user_id), ''), case when nullif(trim(rating), '') in "
        "('1', '2', '3', '4', '5') then cast(trim(rating) as integer) end"
        " from read_csv(?, all_varchar = true, header = true)",
        [str(lake / "crm/ratings.csv")],
    ).fetchall()
    return customers, ratings


def test_whitespace_is_trimmed_so_the_models_read_what_was_checked(
    lake: Path, tmp_path: Path
) -> None:
    c = tmp_path / "c.csv"
    c.write_text(
        HEADER_C + "u-1,C-1,bronze\t,true,2024-01-01\n\t100002,C-2,Silver,false,2024-01-01\n"
    )
    r = tmp_path / "r.csv"
    r.write_text(HEADER_R + "\t100002,2026-10-02T10:00:00Z,5\t\n")
    done = crm_load(lake, "--customers", str(c), "--ratings", str(r))
    assert done.returncode == 0, done.stderr
    customers, ratings = as_models_read(lake)
    assert customers == [("u-1", "bronze"), ("100002", "silver")]
    assert {tier for _, tier in customers} <= set(TIERS)
    assert ratings == [("100002", 5)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("u-1,2026-10-02T10:00:00Z,05", "rating '05' is not one of 1, 2, 3, 4, 5"),
        ("u-1,2026-10-02T10:00:00Z,005", "rating '005' is not one of 1, 2, 3, 4, 5"),
        ("u-1,2026-10-02T10:00:00Z," + "9" * 5000, "rating '99999"),
        ("u-1,0001-01-01T00:00:00+01:00,3", "rated_at '0001-01-01T00:00:00+01:00' is not"),
        ("u-1,9999-12-31T23:00:00-05:00,3", "rated_at '9999-12-31T23:00:00-05:00' is not"),
        ("u-1\x00,2026-10-02T10:00:00Z,3", "user_id 'u-1\\x00' contains a NUL byte"),
    ],
)
def test_a_bad_rating_line_is_one_file_line_reason(
    lake: Path, tmp_path: Path, line: str, reason: str
) -> None:
    r = tmp_path / "ratings.csv"
    r.write_text(HEADER_R + line + "\n")
    done = crm_load(lake, "--ratings", str(r))
    assert done.returncode == 2, done.stdout
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{r}:2: {reason}"), done.stderr
    assert extracts(lake) == (OLD_C, OLD_R)


def test_nul_bytes_never_reach_the_extract(lake: Path, tmp_path: Path) -> None:
    c = tmp_path / "c.csv"
    c.write_bytes((HEADER_C + "u-1,C-\x001,gold,true,2024-01-01\n").encode())
    done = crm_load(lake, "--customers", str(c))
    assert done.returncode == 2 and f"{c}:2: customer_id" in done.stderr, done.stderr
    assert "NUL" in done.stderr and "Traceback" not in done.stderr
    assert extracts(lake) == (OLD_C, OLD_R)


def test_a_header_only_extract_is_refused_unless_allowed(lake: Path, tmp_path: Path) -> None:
    r = tmp_path / "ratings.csv"
    r.write_text(HEADER_R)
    done = crm_load(lake, "--ratings", str(r))
    assert done.returncode == 2
    assert f"{r}: has a header but no rows" in done.stderr
    assert extracts(lake) == (OLD_C, OLD_R)
    done = crm_load(lake, "--ratings", str(r), "--allow-empty")
    assert done.returncode == 0, done.stderr
    assert extracts(lake) == (OLD_C, HEADER_R)


def good_files(tmp_path: Path) -> tuple[Path, Path]:
    c = tmp_path / "new-c.csv"
    c.write_text(HEADER_C + "u-new,C-9,silver,false,2024-01-01\n")
    r = tmp_path / "new-r.csv"
    r.write_text(HEADER_R + "u-new,2026-10-03T10:00:00Z,4\n")
    return c, r


def test_an_input_that_is_a_folder_is_one_line(lake: Path, tmp_path: Path) -> None:
    c, _ = good_files(tmp_path)
    folder = tmp_path / "ratings.csv"
    folder.mkdir()
    done = crm_load(lake, "--customers", str(c), "--ratings", str(folder))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{folder}: cannot be read: Is a directory" in done.stderr
    assert extracts(lake) == (OLD_C, OLD_R)


def test_a_lake_extract_that_is_a_folder_changes_nothing(lake: Path, tmp_path: Path) -> None:
    """The ratings target cannot be replaced: customers (written first) is put back."""
    c, r = good_files(tmp_path)
    (lake / "crm/ratings.csv").unlink()
    (lake / "crm/ratings.csv").mkdir()
    done = crm_load(lake, "--customers", str(c), "--ratings", str(r))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "ratings.csv" in line and "Is a directory" in line, line
    assert (lake / "crm/customers.csv").read_text() == OLD_C
    assert not (lake / "crm/snapshots").exists() or not any((lake / "crm/snapshots").rglob("*.csv"))


def test_a_read_only_lake_is_one_line(lake: Path, tmp_path: Path) -> None:
    c, r = good_files(tmp_path)
    with read_only(lake):
        done = crm_load(lake, "--customers", str(c), "--ratings", str(r))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert str(lake) in line and ("Read-only" in line or "Permission denied" in line), line
    assert extracts(lake) == (OLD_C, OLD_R)


def test_a_lake_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    c, _ = good_files(tmp_path)
    not_a_folder = tmp_path / "lake"
    not_a_folder.write_text("x")
    done = crm_load(not_a_folder, "--customers", str(c))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"lake folder {not_a_folder} is a file" in line, line


def test_one_definition_of_a_rating_and_a_tier_serves_loader_and_models(repo_root: Path) -> None:
    """The loader's lists are the ones the SQL uses (macro and the models' accepted values)."""
    macro = (repo_root / "macros/crm/crm.sql").read_text()
    assert "in (" + ", ".join(f"'{r}'" for r in RATINGS) + ")" in macro
    for yml in ("models/staging/_staging.yml", "models/marts/_marts.yml"):
        assert "loyalty_tier: [" + ", ".join(TIERS) + "]" in (repo_root / yml).read_text()
