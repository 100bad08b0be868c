"""`weblogs compact`: one file per closed hour, marts unchanged, nothing lost, idempotent.

The lake is written the Lambda's way (`transform_records` + `write_result`, one
object per small batch per hour), dbt builds for real on DuckDB, and the S3
variant talks to moto's server over loopback HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt_helpers import (
    CUSTOMERS,
    END,
    MARTS,
    RATINGS,
    START,
    WEBLOGS,
    DbtProject,
    fixture_batches,
    write_csv,
)
from evolution_helpers import write_evolution_lake

from weblogs.adapters.compaction import compact
from weblogs.adapters.lake import LocalLake, S3Lake, write_result
from weblogs.core.compaction import LakeObject, group_hours, split_parts
from weblogs.core.contract import ARROW_SCHEMA
from weblogs.core.layout import COMPACTED_PREFIX
from weblogs.core.transform import transform_records

NOW = datetime(2026, 10, 20, tzinfo=UTC)
FIRST_INGEST = datetime(2026, 10, 6, 12, tzinfo=UTC)
ORDER = {
    "engagement_metrics": "session_id",
    "session_metrics": "session_date, device_type, browser",
    "loyalty_metrics": "user_id",
    "loyalty_by_tier": "loyalty_tier",
}


def write_small_batches(lake: Any, batch: int = 2) -> int:
    """The fixture events as the Lambda writes them: one object per `batch` records per hour.

    The second delivery is ingested a minute later, as a retry would be. Returns objects written.
    """
    written = 0
    for delivery, events in enumerate(fixture_batches()):
        payloads = [json.dumps(e).encode() for e in events]
        for start in range(0, len(payloads), batch):
            result = transform_records(
                payloads[start : start + batch],
                stage="test",
                now=NOW,
                ingested_at=FIRST_INGEST + timedelta(minutes=delivery),
            )
            name = f"shardId-000-{delivery}-{start:06d}"
            written += len(write_result(lake, result, name=name, failed_prefix="failed"))
    return written


def small_file_lake(root: Path) -> Path:
    lake = root / "lake"
    write_small_batches(LocalLake(lake))
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    return lake


def hour_files(lake: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((lake / "events").rglob("*.parquet")):
        found.setdefault(str(path.parent.relative_to(lake)), []).append(path.name)
    return found


def rows(lake: Path) -> Counter[tuple[Any, ...]]:
    """Every event row with its partition: the lake's content as a multiset."""
    found: Counter[tuple[Any, ...]] = Counter()
    for path in (lake / "events").rglob("*.parquet"):
        partition = str(path.parent.relative_to(lake))
        for row in pq.read_table(path).to_pylist():
            found[(partition, *row.values())] += 1
    return found


def snapshot(lake: Path) -> dict[str, tuple[int, int]]:
    """Every file under the lake with size and modification time."""
    return {
        str(p.relative_to(lake)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in lake.rglob("*")
        if p.is_file()
    }


def marts(project: DbtProject) -> dict[str, list[dict[str, Any]]]:
    return {mart: project.table(mart, ORDER[mart]) for mart in MARTS}


@pytest.fixture(scope="module")
def compacted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small-file lake, its marts, then `weblogs compact` and the marts again."""
    root = tmp_path_factory.mktemp("compact")
    lake = small_file_lake(root)
    before_files = hour_files(lake)
    before_rows = rows(lake)
    (lake / "arrivals").mkdir(exist_ok=True)  # the transformation writes its manifests there
    (lake / "arrivals" / "2026-10-06T12.json").write_text('{"dates": ["2026-10-02"]}\n')
    others_before = {k: v for k, v in snapshot(lake).items() if not k.startswith("events/")}
    project = DbtProject(root / "before", lake)
    project.build(START, END)
    before = marts(project)
    done = subprocess.run(
        [WEBLOGS, "compact", "--lake", str(lake), "--grace-seconds", "0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    after_project = DbtProject(root / "after", lake)
    after_project.build(START, END)
    return {
        "lake": lake,
        "before_files": before_files,
        "before_rows": before_rows,
        "before": before,
        "after": marts(after_project),
        "stdout": done.stdout,
        "others_before": others_before,
    }


def test_each_closed_hour_holds_one_file_with_the_same_rows(compacted: dict[str, Any]) -> None:
    lake = compacted["lake"]
    assert max(len(v) for v in compacted["before_files"].values()) >= 3, "fixture too coarse"
    after = hour_files(lake)
    assert set(after) == set(compacted["before_files"])
    for folder, names in after.items():
        assert len(names) == 1, (folder, names)
        if len(compacted["before_files"][folder]) > 1:
            assert names[0].startswith(COMPACTED_PREFIX)
        else:  # a lone object is already compact: left as it is
            assert names == compacted["before_files"][folder]
    assert rows(lake) == compacted["before_rows"]
    for folder, names in after.items():
        assert pq.read_schema(lake / folder / names[0]).remove_metadata().equals(ARROW_SCHEMA)


def test_marts_are_unchanged_by_compaction(compacted: dict[str, Any]) -> None:
    assert compacted["after"] == compacted["before"]
    assert compacted["before"]["engagement_metrics"], "no sessions built"


def test_compaction_touches_nothing_outside_events(compacted: dict[str, Any]) -> None:
    lake = compacted["lake"]
    others = {k: v for k, v in snapshot(lake).items() if not k.startswith("events/")}
    assert others == compacted["others_before"]
    assert not [p for p in lake.rglob(".*")], "a temporary file was left behind"


def test_second_run_changes_nothing(compacted: dict[str, Any]) -> None:
    lake = compacted["lake"]
    before = snapshot(lake)
    done = subprocess.run(
        [WEBLOGS, "compact", "--lake", str(lake), "--grace-seconds", "0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert snapshot(lake) == before
    assert "compact: 0 hours compacted" in done.stdout, done.stdout


def test_open_hours_are_left_alone(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_small_batches(LocalLake(lake))
    hours, _ = group_hours(LocalLake(lake).list_objects("events/"))
    last = max(h.start for h in hours)
    # The last hour ended 1 h 59 min before "now": not closed with the default 2 hours.
    now = last + timedelta(hours=1, minutes=119)
    before = hour_files(lake)
    stats = compact(LocalLake(lake), now=now, grace_seconds=0)
    after = hour_files(lake)
    key = f"events/year={last:%Y}/month={last:%m}/day={last:%d}/hour={last:%H}"
    assert after[key] == before[key]
    assert stats.hours_open == 1
    assert all(len(v) == 1 for k, v in after.items() if k != key)


def test_inputs_are_deleted_only_after_the_grace_period(tmp_path: Path) -> None:
    """While the run waits, the new file and the old ones are both there (a reader sees
    duplicates, never a gap); the wait is the grace period."""
    lake = tmp_path / "lake"
    write_small_batches(LocalLake(lake))
    before = hour_files(lake)
    waits: list[float] = []
    clock = [1000.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds
        now = hour_files(lake)
        for folder, names in before.items():
            if len(names) > 1:
                assert set(names) < set(now[folder]), "an input went before its grace period"
                assert any(n.startswith(COMPACTED_PREFIX) for n in now[folder])

    stats = compact(LocalLake(lake), now=NOW, grace_seconds=60, sleep=sleep, clock=lambda: clock[0])
    assert waits == [60]
    assert stats.objects_deleted == sum(len(v) for v in before.values() if len(v) > 1)
    assert all(len(v) == 1 for v in hour_files(lake).values())


def test_an_interrupted_run_is_finished_not_redone(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_small_batches(LocalLake(lake))
    before_rows = rows(lake)

    def crash(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compact(LocalLake(lake), now=NOW, grace_seconds=3600, sleep=crash)
    halfway = hour_files(lake)
    assert any(len(v) > 2 for v in halfway.values())
    written = {n for v in halfway.values() for n in v if n.startswith(COMPACTED_PREFIX)}
    stats = compact(LocalLake(lake), now=NOW, grace_seconds=0)
    assert stats.objects_written == 0 and stats.hours_finished > 0
    after = hour_files(lake)
    assert {n for v in after.values() for n in v if n.startswith(COMPACTED_PREFIX)} == written
    assert all(len(v) == 1 for v in after.values())
    assert rows(lake) == before_rows


def test_late_data_in_a_compacted_hour_is_merged_next_time(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_small_batches(LocalLake(lake))
    compact(LocalLake(lake), now=NOW, grace_seconds=0)
    folder, names = next(iter(hour_files(lake).items()))
    late = pq.read_table(lake / folder / names[0]).slice(0, 1)
    pq.write_table(late, lake / folder / "shardId-late-1.parquet")
    expected = rows(lake)
    stats = compact(LocalLake(lake), now=NOW, grace_seconds=0)
    assert stats.hours_compacted == 1
    (merged,) = hour_files(lake)[folder]
    assert merged not in names and merged.startswith(COMPACTED_PREFIX)
    assert rows(lake) == expected


def test_an_hour_with_a_foreign_file_is_left_alone_with_one_line(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_small_batches(LocalLake(lake))
    folders = [k for k, v in hour_files(lake).items() if len(v) > 1]
    pq.write_table(pa.table({"x": [1]}), lake / folders[0] / "zz-other.parquet")
    (lake / folders[1] / "zz-broken.parquet").write_bytes(b"not parquet")
    before = {f: hour_files(lake)[f] for f in folders[:2]}
    done = subprocess.run(
        [WEBLOGS, "compact", "--lake", str(lake), "--grace-seconds", "0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in done.stderr
    assert "zz-other.parquet: its columns are not the events contract's" in errors[0] + errors[1]
    assert "zz-broken.parquet: unreadable Parquet" in errors[0] + errors[1]
    after = hour_files(lake)
    assert {f: after[f] for f in folders[:2]} == before
    assert all(len(v) == 1 for k, v in after.items() if k not in folders[:2])


def test_files_declaring_required_columns_nullable_are_merged_unless_they_hold_nulls(
    tmp_path: Path,
) -> None:
    """Another writer (DuckDB, Spark) may declare every column nullable: fine while the
    contract's required columns hold no null; a null there leaves the hour alone."""
    lake = tmp_path / "lake"
    write_small_batches(LocalLake(lake))
    folders = [k for k, v in hour_files(lake).items() if len(v) > 1]
    loose = pa.schema([f.with_nullable(True) for f in ARROW_SCHEMA])
    for folder, event_id in ((folders[0], "x-1"), (folders[1], None)):
        table = pq.read_table(lake / folder / hour_files(lake)[folder][0]).slice(0, 1)
        table = table.cast(loose).set_column(0, "event_id", pa.array([event_id], pa.string()))
        pq.write_table(table, lake / folder / "zz-loose.parquet")
    expected = rows(lake)
    stats = compact(LocalLake(lake), now=NOW, grace_seconds=0)
    assert stats.problems == [
        f"{folders[1]}/: left as it is: {folders[1]}/zz-loose.parquet: "
        "nulls in the required column event_id"
    ]
    assert len(hour_files(lake)[folders[0]]) == 1
    assert "zz-loose.parquet" in hour_files(lake)[folders[1]]
    assert rows(lake) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-age-hours", "-1"], "--min-age-hours must be between 0 and 8760"),
        (["--grace-seconds", "nan"], "--grace-seconds must be between 0 and 8760"),
        (["--min-part-mb", "1"], "--min-part-mb must be between 128 and 65536"),
        (["--lake", "s3://"], "expected s3://BUCKET"),
    ],
)
def test_bad_arguments_get_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "events").mkdir()
    done = subprocess.run(
        [WEBLOGS, "compact", "--lake", str(tmp_path), *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_split_parts_keeps_every_part_at_least_the_threshold() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    objects = tuple(LakeObject(f"k{i:03d}", 10, now) for i in range(100))
    for threshold in (10, 35, 250, 499, 500, 501, 1000, 5000):
        parts = split_parts(objects, threshold)
        assert [o for p in parts for o in p] == list(objects)
        sizes = [sum(o.size for o in p) for p in parts]
        assert all(s >= min(threshold, 1000) for s in sizes), (threshold, sizes)
        # ... and none is needlessly big: a part closes as soon as it reaches the threshold,
        # only the last one takes a remainder smaller than the threshold.
        assert all(s < 2 * threshold + 10 for s in sizes) or len(parts) == 1, (threshold, sizes)
        assert (len(parts) == 1) == (threshold > 500)


def test_big_hours_become_parts_and_stay_compact(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_small_batches(LocalLake(lake), batch=1)
    before_rows = rows(lake)
    biggest = max(hour_files(lake).items(), key=lambda kv: len(kv[1]))
    size = sum((lake / biggest[0] / n).stat().st_size for n in biggest[1])
    planned = split_parts(
        tuple(sorted(LocalLake(lake).list_objects(biggest[0]), key=lambda o: o.key)), size // 3
    )
    stats = compact(LocalLake(lake), now=NOW, grace_seconds=0, min_part_bytes=size // 3)
    parts = hour_files(lake)[biggest[0]]
    assert len(parts) == len(planned) >= 2, parts
    assert rows(lake) == before_rows
    again = compact(LocalLake(lake), now=NOW, grace_seconds=0, min_part_bytes=size // 4)
    assert again.objects_written == again.objects_deleted == 0
    assert stats.objects_written > 3


def test_a_killed_writers_old_temporary_no_longer_breaks_the_models_read(
    tmp_path: Path,
) -> None:
    """A temporary named like a Parquet file (what the local lake wrote before `.partial`),
    left by a killed writer, fails every DuckDB read of its folder: compaction removes any
    temporary under events/ older than an hour, and leaves a younger one alone."""
    import duckdb

    lake = small_file_lake(tmp_path)
    folder = next(p.parent for p in (lake / "events").rglob("*.parquet"))
    stale = folder / ".tmp-99999-0-shardId-000-0-000000.parquet"
    stale.write_bytes(b"half a file")
    os.utime(stale, (1, 1))
    fresh = folder / ".tmp-99999-1-shardId-000-0-000001.parquet.partial"
    fresh.write_bytes(b"being written")
    glob = f"{lake}/events/*/*/*/*/*.parquet"
    with pytest.raises(duckdb.InvalidInputException, match="too small to be a Parquet file"):
        duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall()
    stats = compact(LocalLake(lake), now=NOW, grace_seconds=0)
    assert stats.temporaries_removed >= 1
    assert not stale.exists() and fresh.exists()
    assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchone()[0] > 0


def test_a_build_racing_a_compaction_gets_exact_marts(
    compacted: dict[str, Any], tmp_path: Path
) -> None:
    """dbt builds while compaction writes the new files and deletes the old ones; the
    marts are those of the same lake built alone (before compaction)."""
    lake = small_file_lake(tmp_path)
    expected = compacted["before"]
    racing = DbtProject(tmp_path / "racing", lake, env={"DBT_LOG_LEVEL_FILE": "debug"})
    finished: list[float] = []

    log = racing.workdir / "logs" / "dbt.log"

    def logged(line: str) -> bool:
        return log.exists() and line in log.read_text(errors="replace")

    def wait_for(line: str) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not logged(line):
            time.sleep(0.02)

    def grace(_seconds: float) -> None:
        # The grace period lasts until the model that listed the old files has read them:
        # the deletions then come while the rest of the build runs (the staging's data
        # tests read the events again), whatever this machine's speed.
        wait_for("Finished running node model.weblogs.int_run_session_events")

    def run_compaction() -> None:
        # The new files are written while dbt starts the model that reads the events.
        wait_for("Began running node model.weblogs.int_run_session_events")
        stats = compact(LocalLake(lake), now=NOW, grace_seconds=2, sleep=grace)
        assert stats.hours_compacted > 0
        finished.append(time.monotonic())

    worker = threading.Thread(target=run_compaction)
    worker.start()
    racing.build(START, END)
    build_done = time.monotonic()
    worker.join()
    assert finished and finished[0] < build_done, "compaction did not overlap the build"
    assert all(len(v) == 1 for v in hour_files(lake).values())
    assert marts(racing) == expected


# --- S3 through moto's server over loopback -------------------------------------------


def test_compaction_on_s3(moto_server: Any, tmp_path: Path) -> None:
    moto_server.reset()
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket="lake")
    lake = S3Lake(s3, "lake")
    write_small_batches(lake)
    s3.put_object(Bucket="lake", Key="arrivals/2026-10-06T12.json", Body=b"{}\n")
    s3.put_object(Bucket="lake", Key="events/README.txt", Body=b"not an event object")

    def listing() -> dict[str, dict[str, Any]]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="lake")
        return {o["Key"]: o for page in pages for o in page.get("Contents", [])}

    def s3_rows() -> Counter[tuple[Any, ...]]:
        found: Counter[tuple[Any, ...]] = Counter()
        for key in listing():
            if key.endswith(".parquet"):
                body = s3.get_object(Bucket="lake", Key=key)["Body"].read()
                partition = key.rsplit("/", 1)[0]
                for row in pq.read_table(pa.BufferReader(body)).to_pylist():
                    found[(partition, *row.values())] += 1
        return found

    before = listing()
    before_rows = s3_rows()
    env = {**os.environ, **moto_server.env}
    done = subprocess.run(
        [WEBLOGS, "compact", "--lake", "s3://lake", "--grace-seconds", "0"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = listing()
    per_hour = Counter(k.rsplit("/", 1)[0] for k in after if k.endswith(".parquet"))
    assert per_hour and set(per_hour.values()) == {1}
    assert len(per_hour) == len({k.rsplit("/", 1)[0] for k in before if k.endswith(".parquet")})
    assert s3_rows() == before_rows
    for key in ("arrivals/2026-10-06T12.json", "events/README.txt"):
        assert after[key]["ETag"] == before[key]["ETag"]
        assert after[key]["LastModified"] == before[key]["LastModified"]
    again = compact(S3Lake(s3, "lake"), grace_seconds=0)
    assert again.objects_written == again.objects_deleted == 0
    assert listing() == after

    # Late data in a compacted hour, read by ranges (as a big part would be): merged.
    folder = next(k.rsplit("/", 1)[0] for k in after if "/compacted-" in k)
    (merged,) = [k for k in after if k.startswith(folder + "/")]
    body = s3.get_object(Bucket="lake", Key=merged)["Body"].read()
    late = pq.read_table(pa.BufferReader(body)).slice(0, 1)
    sink = pa.BufferOutputStream()
    pq.write_table(late, sink)
    s3.put_object(
        Bucket="lake", Key=f"{folder}/shardId-late.parquet", Body=sink.getvalue().to_pybytes()
    )
    expected = s3_rows()

    def crash(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compact(S3Lake(s3, "lake"), grace_seconds=60, sleep=crash, whole_object_bytes=0)
    halfway = [k for k in listing() if k.startswith(folder + "/")]
    assert len(halfway) == 3  # the new object is there before the old ones go
    finished = compact(S3Lake(s3, "lake"), grace_seconds=0, whole_object_bytes=0)
    assert finished.hours_finished == 1 and finished.objects_written == 0
    (final,) = [k for k in listing() if k.startswith(folder + "/")]
    assert final not in (merged, f"{folder}/shardId-late.parquet")
    assert s3_rows() == expected


def test_files_from_before_added_columns_are_merged_with_nulls(tmp_path: Path) -> None:
    """An hour holding files written before `client_id` and `value` existed (next to new
    ones) is compacted like any other; the old rows get null in the new columns."""
    lake = tmp_path / "lake"
    lake.mkdir()
    evolved = write_evolution_lake(lake)
    by_name = {
        path.name: pq.read_table(path).to_pylist()[0]
        for path in evolved  # every file holds one row
    }
    stats = compact(LocalLake(lake), now=NOW, grace_seconds=0)
    assert stats.problems == []
    merged = {}
    mixed = evolved[0].parent  # the hour holding an old file and a new one
    assert evolved[1].parent == mixed and len(list(mixed.iterdir())) == 1
    for path in (lake / "events").rglob("*.parquet"):
        table = pq.read_table(path)
        if path.parent == mixed:
            assert table.schema.remove_metadata().equals(ARROW_SCHEMA), path
        merged.update({row["event_id"]: row for row in table.to_pylist()})
    assert len(merged) == len(by_name)
    for name, before in by_name.items():
        after = merged[before["event_id"]]
        assert {k: after[k] for k in before} == before
        if name.startswith("old-"):
            assert (after.get("client_id"), after.get("value")) == (None, None)
