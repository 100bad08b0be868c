"""The one lake protocol (`weblogs.adapters.lake`), the same checks on both homes:
a folder, and a bucket on moto's server over loopback HTTP."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from weblogs.adapters.lake import (
    LakeError,
    LocalLake,
    S3Lake,
    open_lake,
    parse_address,
)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.aws)])  # s3: moto
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "local":
        yield LocalLake(tmp_path / "lake")
        return
    server = request.getfixturevalue("moto_server")
    server.reset()
    s3 = server.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
    yield open_lake("s3://lake", s3_client=s3)


def test_put_get_list_with_sizes_ranges_and_delete(lake: Any) -> None:
    lake.put("a/b/one.bin", b"0123456789")
    lake.put("a/two.bin", b"xy")
    lake.put("c/three.bin", b"")
    assert lake.get("a/b/one.bin") == b"0123456789"
    assert lake.read_range("a/b/one.bin", 3, 4) == b"3456"
    assert [(o.key, o.size) for o in lake.list_objects("a/")] == [
        ("a/b/one.bin", 10),
        ("a/two.bin", 2),
    ]
    assert list(lake.list("c/")) == ["c/three.bin"]
    assert lake.stat("a/two.bin").size == 2
    assert lake.stat("a/missing") is None
    with lake.open_input("a/b/one.bin") as handle:
        handle.seek(-3, os.SEEK_END)
        assert handle.read() == b"789"
    lake.delete("a/two.bin")
    lake.delete("a/two.bin")  # already gone: no error
    assert not lake.exists("a/two.bin")
    assert lake.exists("a/b/one.bin")


def test_create_fails_when_the_key_exists(lake: Any) -> None:
    assert lake.create("leases/x.json", b"first") is True
    assert lake.create("leases/x.json", b"second") is False
    assert lake.get("leases/x.json") == b"first"
    lake.delete("leases/x.json")
    assert lake.create("leases/x.json", b"third") is True


def test_staged_publishes_only_a_complete_write(lake: Any) -> None:
    lake.put("events/x.parquet", b"old")
    with pytest.raises(RuntimeError), lake.staged("events/x.parquet") as path:
        path.write_bytes(b"half")
        raise RuntimeError("killed half way")
    assert lake.get("events/x.parquet") == b"old"
    with lake.staged("events/x.parquet") as path:
        pq.write_table(__import__("pyarrow").table({"a": [1, 2]}), path)
    with lake.open_input("events/x.parquet") as handle:
        assert pq.read_table(handle).num_rows == 2
    assert [o.key for o in lake.list_objects("")] == ["events/x.parquet"]


def test_versions_are_listed_and_deleted(lake: Any) -> None:
    lake.put("crm/a.csv", b"1")
    lake.put("crm/a.csv", b"22")
    versions = list(lake.list_versions("crm/"))
    latest = [v for v in versions if v.is_latest]
    assert [(v.key, v.size) for v in latest] == [("crm/a.csv", 2)]
    for version in versions:
        lake.delete_version(version.key, version.version_id)
    assert list(lake.list_versions("crm/")) == []


def test_unsafe_keys_are_refused(lake: Any) -> None:
    for key in ["", "/abs", "a//b", "a/../b", "./a", "a/\x00"]:
        with pytest.raises(ValueError, match="unsafe lake key"):
            lake.put(key, b"x")


@pytest.mark.parametrize(
    "uri",
    ["", "s3://", "s3:///", "s3://b/key", "s3://UPPER", "s3://a", "gs://bucket", "s3://a..b"],
)
def test_one_error_for_a_bad_lake_address(uri: str) -> None:
    with pytest.raises(LakeError, match=r"expected|empty"):
        parse_address(uri)
    with pytest.raises(LakeError):
        open_lake(uri, s3_client=object())


def test_a_lake_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lake").write_text("not a folder")
    with pytest.raises(LakeError, match="is a file"):
        open_lake(tmp_path / "lake")


def test_open_lake_picks_the_home(tmp_path: Path) -> None:
    assert isinstance(open_lake(tmp_path), LocalLake)
    assert isinstance(open_lake("s3://my-lake/", s3_client=object()), S3Lake)


def test_killed_writers_temporaries_are_cleaned_but_not_listed(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path)
    lake.put("events/a.parquet", b"x")
    stale = tmp_path / "events" / ".tmp-99999-0-a.parquet"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    fresh = tmp_path / "events" / ".tmp-99999-1-b.parquet"
    fresh.write_bytes(b"in flight")
    assert list(lake.list("events/")) == ["events/a.parquet"]
    assert lake.clean_temporaries("events/", older_than_seconds=3600) == 1
    assert not stale.exists() and fresh.exists()


def test_a_write_in_flight_is_never_read_by_the_models_glob(tmp_path: Path) -> None:
    """DuckDB's `*.parquet` glob (how the models read the lake) matches hidden files too:
    a write in progress, or one a killed writer left, must not end like the file it
    becomes, or a build reading that folder meanwhile fails on half a file."""
    import io

    import duckdb
    import pyarrow as pa

    lake = LocalLake(tmp_path)
    folder = "events/year=2026/month=10/day=02/hour=08"
    whole = io.BytesIO()
    pq.write_table(pa.table({"x": [1, 2]}), whole)
    lake.put(f"{folder}/a.parquet", whole.getvalue())
    glob = f"{tmp_path}/events/*/*/*/*/*.parquet"
    with (
        pytest.raises(RuntimeError, match="writer killed"),
        lake.staged(f"{folder}/b.parquet") as path,
    ):
        path.write_bytes(b"half a file")
        assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchone() == (2,)
        raise RuntimeError("writer killed")
    assert list(lake.list(f"{folder}/")) == [f"{folder}/a.parquet"]


def test_no_storage_code_outside_the_lake_package(repo_root: Path) -> None:
    """Writes, deletes and lake addresses have one home: weblogs/adapters/lake/."""
    pattern = re.compile(
        r"\.(put_object|upload_file|delete_object|delete_objects|copy_object)\(|os\.replace\(|"
        r"\bS3Store\b|\bLocalStore\b|CrmStore\b|def open_store\b|\[5:\]"
    )
    # Not lake storage: the dbt worker's kept parse is a file in dbt's target folder,
    # written by a module the worker loads without the package (parse_key.py).
    not_lake = {"weblogs/analytics/parse_key.py"}
    found = []
    for package in ("weblogs", "ingestion", "lambdas"):
        for path in sorted((repo_root / package).rglob("*.py")):
            relative = path.relative_to(repo_root).as_posix()
            if "adapters/lake/" in relative or relative in not_lake:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(repo_root)}:{number}: {line.strip()}")
    assert found == []
