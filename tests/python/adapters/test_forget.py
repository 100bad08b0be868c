"""`weblogs forget` on a lake folder (docs/contract.md section 7, Erasure).

The lake holds the user in every place (forget_helpers.py). After the command no
file mentions the user's id, client id, session ids or their marked records, every
other record is exactly as before, the erasure record holds only the id's SHA-256,
the touched dates are recorded as arrivals, a second run finds nothing, a dry run
changes nothing, and a kill at any point followed by a rerun ends the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dbt_helpers import WEBLOGS
from forget_helpers import USER, build_lake, forget_peak_kib, hour_key, others, search

from weblogs.adapters.lake import LocalLake
from weblogs.core import layout
from weblogs.core.erasure import Targets, failed_line_matches, filter_csv, payload_matches
from weblogs.core.transform import parquet_bytes

#: The tests on a whole lake (built by `weblogs` commands, then `weblogs forget` run on
#: it, killed and rerun): seconds each, so `make test` runs them, `make test-fast` not.
SLOW = pytest.mark.slow


@pytest.fixture(scope="module")
def template_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forget-template")
    build_lake(LocalLake(root / "lake"), str(root / "lake"), root / "work")
    return root / "lake"


@pytest.fixture
def lake(template_lake: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(template_lake, copy)
    return copy


def forget(lake: Path, *extra: str, user: str = USER) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WEBLOGS, "forget", "--user-id", user, "--lake", str(lake), *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def pad(lake: Path) -> None:
    """Other people's objects between the user's, so a kill lands in the middle of a place."""
    local = LocalLake(lake)
    line = json.dumps({"session_id": "s-pad", "user_id": "u-pad", "page_url": "/pad"})
    for index in range(150):
        for prefix in (layout.RAW, layout.FAILED_RECORDS):
            key = f"{prefix}/dt=2026-10-02/pad-{index:03d}.jsonl"
            local.put(key, (line + "\n").encode() * 50)
    table = pq.read_table(lake / hour_key(local, "12"))
    others_only = table.filter(pc.equal(table.column("session_id"), "s-other-4"))
    assert others_only.num_rows == 1
    for index in range(60):
        key = layout.event_key(("2026", "10", "03", f"{index % 24:02d}"), f"pad-{index:03d}")
        local.put(key, parquet_bytes(others_only))


def files(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()
    }


@SLOW
def test_the_lake_holds_the_user_everywhere_before(template_lake: Path) -> None:
    places = {hit.split("/")[0] for hit in search(LocalLake(template_lake))}
    assert places >= {layout.EVENTS, layout.RAW, layout.EXTRA_COLUMNS, layout.CRM,
                      layout.FAILED_RECORDS, layout.KINESIS_FAILURES,
                      layout.FAILED_TRANSFORMATION_RECORDS}  # fmt: skip


@SLOW
def test_forget_removes_the_user_and_nothing_else(lake: Path) -> None:
    before = others(LocalLake(lake))
    done = forget(lake)
    assert done.returncode == 0, done.stderr
    assert search(LocalLake(lake)) == []
    assert others(LocalLake(lake)) == before
    digest = hashlib.sha256(USER.encode()).hexdigest()
    assert f"user sha256 {digest}" in done.stdout
    (record_path,) = (lake / layout.ERASURE / "records").iterdir()
    record = json.loads(record_path.read_text())
    assert record["user_id_sha256"] == digest
    assert USER not in record_path.read_text()
    assert record["records_removed"] == {
        "raw": 2, "extra_columns": 1, "failed_transformation_records": 1, "failed_records": 2,
        "kinesis_failures": 1, "crm": 6, "events": 5,
    }  # fmt: skip
    assert record["event_dates_to_rebuild"] == ["2026-10-02", "2026-10-03"]
    arrivals = (lake / record["arrivals_manifest"]).read_text().splitlines()
    assert {json.loads(line)["event_date"] for line in arrivals} == {"2026-10-02", "2026-10-03"}
    assert all(json.loads(line)["first_ingested_at"] is None for line in arrivals)
    assert not (lake / layout.ERASURE / "pending").exists() or not any(
        (lake / layout.ERASURE / "pending").iterdir()
    )


@SLOW
def test_a_second_run_finds_nothing_and_changes_nothing(lake: Path) -> None:
    assert forget(lake).returncode == 0
    before = {k: v for k, v in files(lake).items() if not k.startswith(layout.ERASURE)}
    again = forget(lake)
    assert again.returncode == 0, again.stderr
    assert "removed 0 records" in again.stdout
    assert "event dates to rebuild: none" in again.stdout
    after = {k: v for k, v in files(lake).items() if not k.startswith(layout.ERASURE)}
    assert after == before


@SLOW
def test_dry_run_prints_what_would_go_and_changes_nothing(lake: Path) -> None:
    before = files(lake)
    done = forget(lake, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would remove 18 records" in done.stdout
    assert "events 5 (5 objects)" in done.stdout
    assert files(lake) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user-id", "  "], "--user-id is empty"),
        (["--user-id", "a\x01b"], "control character"),
        (["--user-id", "x" * 2000], "longer than"),
        (["--user-id", "u", "--lake", "ftp://x"], "expected a folder or s3://BUCKET"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = subprocess.run([WEBLOGS, "forget", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


@SLOW
def test_an_unreadable_object_stops_the_run_naming_it(lake: Path) -> None:
    bad = lake / layout.event_key(("2026", "10", "02", "23"), "broken")
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"PAR1 not parquet")
    done = forget(lake)
    assert done.returncode == 2
    assert "broken.parquet" in done.stderr and "Traceback" not in done.stderr


#: The archive object of the memory test: this many MiB of other people's lines.
BIG_MIB = 64


def peak_kib(lake: Path) -> int:
    return forget_peak_kib(lake, USER)


def test_memory_does_not_grow_with_the_objects_it_rewrites(lake: Path, tmp_path: Path) -> None:
    """Streaming object by object, line by line: a 64 MiB archive object holding the
    user (judged, then rewritten without the user's line) costs far less than its size."""
    big = tmp_path / "big"
    shutil.copytree(lake, big)
    line = json.dumps({"session_id": "s-big", "user_id": "u-big", "page_url": "/" + "x" * 2000})
    mine = json.dumps({"session_id": "s-big-2", "user_id": USER, "page_url": "/big"})
    half = (line + "\n").encode() * (BIG_MIB * 2**20 // (len(line) + 1) // 2)
    key = layout.dated_key(layout.RAW, datetime(2026, 10, 2, tzinfo=UTC), "big")
    LocalLake(big).put(key, half + (mine + "\n").encode() + half)
    small_peak = peak_kib(lake)
    big_peak = peak_kib(big)
    assert (big / key).stat().st_size == len(half) * 2
    assert big_peak - small_peak < BIG_MIB * 1024 // 2, (small_peak, big_peak)


def journaled_objects(lake: Path) -> int:
    """How many objects the journal says the running erasure has decided to rewrite."""
    for path in (lake / layout.ERASURE / "pending").glob("*.json"):
        try:
            return sum(len(keys) for keys in json.loads(path.read_bytes())["removed"].values())
        except (ValueError, OSError):
            return -1
    return -1


def kill_once_journaled(lake: Path, stop_at: int) -> bool:
    """Start `weblogs forget` and SIGKILL it once its journal names `stop_at` objects;
    False when the run ended first (nothing was killed)."""
    process = subprocess.Popen(
        [WEBLOGS, "forget", "--user-id", USER, "--lake", str(lake)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while journaled_objects(lake) < stop_at and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    if process.poll() is not None:
        return False
    os.killpg(process.pid, signal.SIGKILL)
    return process.wait() == -signal.SIGKILL


@SLOW
@pytest.mark.parametrize("stop_at", [0, 1, 3, 5, 8, 11, 12, 13, 14, 15])
def test_a_kill_at_any_point_then_a_rerun_forgets_the_user_and_keeps_everyone_else(
    lake: Path, stop_at: int
) -> None:
    """Killed once the journal names `stop_at` of the 16 objects to rewrite (0: right
    after C and S are journaled), then run again to the end."""
    pad(lake)
    before = others(LocalLake(lake))
    pristine = lake.parent / f"{lake.name}-pristine"
    shutil.copytree(lake, pristine)
    # On a fast machine a run can finish between two looks at its journal: that try
    # killed nothing, so start again from the same lake (at most five tries).
    for attempt in range(5):
        if attempt:
            shutil.rmtree(lake)
            shutil.copytree(pristine, lake)
        if kill_once_journaled(lake, stop_at):
            break
    else:
        pytest.fail(f"the run ended before it could be killed at {stop_at}, five times")
    done = forget(lake)
    assert done.returncode == 0, done.stderr
    assert search(LocalLake(lake)) == []
    assert others(LocalLake(lake)) == before


# ------------------------------------------------------------------ the rules, one by one

TARGETS = Targets(
    hashlib.sha256(b"u1").hexdigest(),
    {hashlib.sha256(b"c1").hexdigest()},
    {hashlib.sha256(b"s1").hexdigest()},
)


@pytest.mark.parametrize(
    ("payload", "goes"),
    [
        (b'{"user_id": " u1 ", "session_id": "x"}', True),
        (b'{"user_id": "u10", "session_id": "x"}', False),
        (b'{"client_id": "c1"}', True),
        (b'{"session_id": "\\ts1 "}', True),
        (b'{"user_id": 1, "session_id": "s2"}', False),
        (b'{"user_id": true, "session_id": "s2"}', False),
        (b'[{"session_id": "s1"}]', True),  # not an object: by its tokens
        (b'{"session_id": "s1", "page_url": ', True),  # invalid JSON: by its tokens
        (b'{"page_url": "/u1/x", "session_id": "s2"}', False),
        (b"", False),
    ],
)
def test_payload_rule(payload: bytes, goes: bool) -> None:
    """By hash (a resumed run) and by value (every hash has its value in memory) alike."""
    assert payload_matches(payload, TARGETS) is goes
    by_value = Targets(
        TARGETS.user_hash, set(TARGETS.client_hashes), set(TARGETS.session_hashes),
        user_id="u1", clients={"c1"}, sessions={"s1"},
    )  # fmt: skip
    by_value.settle()
    assert by_value.fast
    assert payload_matches(payload, by_value) is goes


def test_failed_lines_are_judged_by_their_payload() -> None:
    line = json.dumps({"reason": "x", "payload": '{"user_id": "u1"}', "payload_encoding": "utf-8"})
    assert failed_line_matches(line.encode(), TARGETS)
    other = json.dumps(
        {"reason": "u1", "payload": '{"user_id": "u2"}', "payload_encoding": "utf-8"}
    )
    assert not failed_line_matches(other.encode(), TARGETS)


def test_csv_rows_go_by_user_id_found_by_header_and_others_stay_byte_for_byte() -> None:
    text = 'Rating,"USER_ID ",note\r\n5,u1,x\r\n4,u2,"two\nlines, ""quoted"""\r\n3, u1 ,y\r\n'
    kept, removed = filter_csv(text, TARGETS.user_hash)
    assert removed == 2
    assert kept == 'Rating,"USER_ID ",note\r\n4,u2,"two\nlines, ""quoted"""\r\n'
    assert filter_csv("a,b\n1,u1\n", TARGETS.user_hash) == ("a,b\n1,u1\n", 0)
