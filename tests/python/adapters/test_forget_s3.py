"""`weblogs forget` on S3: boto3 against moto's server over real HTTP, a versioned bucket.

The bucket holds the user in every place (forget_helpers.py), in an old version of
an object that now holds only others, and in an object deleted since (what
compaction leaves: a delete marker over the data). After the command no version of
any object mentions the user, every other record and every version of the objects
that never held the user are as before, and a second run finds nothing. A kill at
any point (SIGKILL before the n-th write reaches the bucket, counted by a loopback
proxy) followed by a rerun ends the same way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from awsfixtures import FaultProxy, FaultRule, MotoServer
from dbt_helpers import WEBLOGS
from forget_helpers import MARKER, USER, build_lake, hour_key, others, search

from weblogs.adapters.lake import S3Lake, open_lake
from weblogs.core import layout

OTHERS_KEY = layout.dated_key(layout.RAW, datetime(2026, 10, 1), "others")
OLD_KEY = layout.dated_key(layout.RAW, datetime(2026, 10, 1), "old")
GONE_KEY = layout.event_key(("2026", "10", "03", "05"), "compacted-away")


def versions(lake: S3Lake) -> list[tuple[str, Any, bool]]:
    return sorted((v.key, v.version_id, v.delete_marker) for v in lake.list_versions(""))


def fill_bucket(moto_server: MotoServer, work: Path) -> S3Lake:
    """A new versioned bucket holding the user everywhere, in old versions too."""
    s3 = moto_server.client("s3")
    name = f"forget-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    lake = open_lake(f"s3://{name}", s3_client=s3)
    assert isinstance(lake, S3Lake)
    build_lake(lake, f"s3://{name}", work / "work")
    mine = json.dumps({"session_id": "s-x", "user_id": USER, "page_url": f"/{MARKER}/o"})
    other = json.dumps({"session_id": "s-y", "user_id": "u-other-9", "page_url": "/o"})
    lake.put(OLD_KEY, f"{mine}\n{other}\n".encode())
    lake.put(OLD_KEY, f"{other}\n".encode())  # the user is only in the old version now
    lake.put(OTHERS_KEY, f"{other}\n".encode())
    lake.put(OTHERS_KEY, f"{other}\n{other}\n".encode())  # two versions, nobody to forget
    lake.put(GONE_KEY, lake.get(hour_key(lake, "12")))  # the user's client, in a copy
    lake.delete(GONE_KEY)
    return lake


@pytest.fixture
def bucket(moto_server: MotoServer, tmp_path: Path) -> S3Lake:
    return fill_bucket(moto_server, tmp_path)


def forget(lake: S3Lake, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WEBLOGS, "forget", "--user-id", USER, "--lake", f"s3://{lake.bucket}", *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def test_forget_on_s3_leaves_no_version_with_the_user(bucket: S3Lake) -> None:
    assert any(hit.startswith(OLD_KEY) for hit in search(bucket))
    assert any(hit.startswith(GONE_KEY) for hit in search(bucket))
    before = others(bucket)
    untouched = [v for v in versions(bucket) if v[0] == OTHERS_KEY]
    assert len(untouched) == 2

    snapshot = versions(bucket)
    dry = forget(bucket, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would remove" in dry.stdout and "old versions to delete" in dry.stdout
    assert versions(bucket) == snapshot, "a dry run changed the bucket"

    done = forget(bucket)
    assert done.returncode == 0, done.stderr
    assert search(bucket) == []
    assert others(bucket) == before
    assert [v for v in versions(bucket) if v[0] == OTHERS_KEY] == untouched
    # Only the delete marker is left (it holds nothing; the lifecycle removes it).
    assert [v[2] for v in versions(bucket) if v[0] == GONE_KEY] == [True]
    assert not list(bucket.list_versions(f"{layout.ERASURE}/pending/"))
    records = list(bucket.list(f"{layout.ERASURE}/records/"))
    (record,) = (json.loads(bucket.get(key)) for key in records)
    assert record["old_versions_deleted"] >= 2
    assert record["records_removed"]["events"] == 5

    after = versions(bucket)
    again = forget(bucket)
    assert again.returncode == 0, again.stderr
    assert "removed 0 records" in again.stdout and "0 old versions deleted" in again.stdout
    new = [v for v in versions(bucket) if v not in after]
    assert [v[0].split("/")[1] for v in new] == ["records"]


def test_a_missing_bucket_is_one_line(moto_server: MotoServer) -> None:
    done = subprocess.run(
        [WEBLOGS, "forget", "--user-id", USER, "--lake", "s3://no-such-bucket-here"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "no-such-bucket-here" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------ kill, then rerun

#: Where a run is killed: before this fraction of its writes (PUT, POST, DELETE) has
#: reached the bucket (0.0: the first write, the journal; 1.0: the last one).
KILL_POINTS = (0.0, 0.3, 0.65, 1.0)


def writes(method: str) -> bool:
    return method in ("PUT", "POST", "DELETE")


def run_through(
    moto_server: MotoServer, lake: S3Lake, kill_at: int | None
) -> tuple[subprocess.CompletedProcess[str] | None, int]:
    """`weblogs forget` with its S3 requests through a proxy that counts the writes and
    SIGKILLs the process before the `kill_at`-th (1-based) reaches moto; (the finished
    run or None when killed, the writes that reached the bucket)."""
    state: dict[str, Any] = {"writes": 0, "process": None}

    def kill_here(method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        if not writes(method):
            return False
        if kill_at is not None and state["writes"] + 1 == kill_at:
            os.killpg(state["process"].pid, signal.SIGKILL)
            return True  # never forwarded: the process is gone
        state["writes"] += 1
        return False

    proxy = FaultProxy(moto_server.port, [FaultRule(kill_here)]).start()
    try:
        state["process"] = subprocess.Popen(
            [WEBLOGS, "forget", "--user-id", USER, "--lake", f"s3://{lake.bucket}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **moto_server.env, "AWS_ENDPOINT_URL": proxy.endpoint},
            start_new_session=True,
        )
        out, err = state["process"].communicate(timeout=300)
        code = state["process"].returncode
    finally:
        proxy.stop()
    if code == -signal.SIGKILL:
        return None, state["writes"]
    return subprocess.CompletedProcess([], code, out, err), state["writes"]


@pytest.fixture(scope="module")
def writes_of_a_run(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> int:
    """The writes of one uninterrupted run on the bucket every kill test starts from."""
    lake = fill_bucket(moto_server, tmp_path_factory.mktemp("forget-s3-count"))
    done, count = run_through(moto_server, lake, None)
    assert done is not None and done.returncode == 0, done and done.stderr
    assert search(lake) == []
    return count


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_at_any_write_then_a_rerun_leaves_no_version_with_the_user(
    moto_server: MotoServer, tmp_path: Path, writes_of_a_run: int, point: float
) -> None:
    lake = fill_bucket(moto_server, tmp_path)
    before = others(lake)
    kill_at = 1 + round(point * (writes_of_a_run - 1))
    killed, reached = run_through(moto_server, lake, kill_at)
    assert killed is None, f"the run ended before its write {kill_at} of {writes_of_a_run}"
    assert reached == kill_at - 1
    pending = list(lake.list(f"{layout.ERASURE}/pending/"))
    if point == 0.0:
        assert pending == [] and search(lake), "killed before its first write: nothing done"
    elif point < 1.0:
        assert len(pending) == 1, "killed after the journal was written: the rerun resumes"
    # (1.0: killed before its last write, a noncurrent version of the journal: resumes nothing)

    done = forget(lake)
    assert done.returncode == 0, done.stderr
    assert ("(resumed)" in done.stdout) == bool(pending), done.stdout
    assert search(lake) == []  # current objects and every noncurrent version
    assert others(lake) == before  # everyone else's records, each exactly once
    assert not list(lake.list_versions(f"{layout.ERASURE}/pending/"))
