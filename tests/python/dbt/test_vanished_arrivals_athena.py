"""On `athena` the scheduled run lists the lake bucket and finds vanished arrivals manifests.

The bucket is moto's server over loopback HTTP, the Athena reads the real
reader's (moto answers them from its result queue). A manifest deleted and
one emptied to 0 bytes: the plan counts them (the run's message) and rebuilds
their dates; an object older than the look-back is not listed (the documented
bound, weblogs.analytics.bucket_listing).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import date

import pytest
from awsfixtures import REGION, MotoServer

from weblogs.analytics.bucket_listing import LAKE_ENV, LOOKBACK_DAYS, listed_days, manifest_hours
from weblogs.analytics.dbt_build import plan_counts
from weblogs.analytics.readers import athena_reader
from weblogs.analytics.scheduled import plan_scheduled_run
from weblogs.analytics.targets import resolve_target
from weblogs.core import layout
from weblogs.core.errors import ConfigError

BUCKET = "weblogs-lake-test"
RUN_DATE = date(2026, 10, 11)


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    moto_server.reset()
    yield moto_server
    moto_server.reset()


def athena_env(server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    return server.env | {
        "WEBLOGS_DBT_TARGET": "athena",
        "WEBLOGS_AWS_REGION": REGION,
        "WEBLOGS_ATHENA_WORKGROUP": "weblogs",
        "WEBLOGS_ATHENA_S3_STAGING_DIR": f"s3://{BUCKET}/athena_output/",
        "WEBLOGS_ATHENA_SCHEMA": "weblogs_analytics",
        LAKE_ENV: f"s3://{BUCKET}",
        "WEBLOGS_NOW": "2026-10-11T06:00:00Z",
    }


def put_batch(s3: object, name: str, event: tuple[str, str, str, str], arrived: str | None,
              manifest: bytes) -> None:  # fmt: skip
    """A batch's event object, then its manifest under arrival day `arrived` (None: deleted)."""
    s3.put_object(Bucket=BUCKET, Key=layout.event_key(event, name), Body=b"PAR1")  # type: ignore[attr-defined]
    if arrived is not None:
        key = f"arrivals/year={arrived[:4]}/month={arrived[5:7]}/day={arrived[8:]}/{name}.jsonl"
        s3.put_object(Bucket=BUCKET, Key=key, Body=manifest)  # type: ignore[attr-defined]


def line(event_date: str, hour: str, arrived_at: str) -> bytes:
    item = {"event_date": event_date, "event_hour": hour, "arrived_at": arrived_at}
    return (json.dumps(item | {"first_ingested_at": arrived_at}) + "\n").encode()


def test_athena_plan_reports_and_rebuilds_a_deleted_and_an_emptied_manifest(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = athena_env(moto, monkeypatch)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    moto.client("athena").create_work_group(Name="weblogs")
    # Recorded: arrived yesterday, named by its manifest (and by the Glue table's rows).
    put_batch(s3, "a", ("2026", "10", "10", "10"), "2026-10-10",
              line("2026-10-10", "10", "2026-10-10T11:00:00Z"))  # fmt: skip
    # Manifest deleted, and one emptied to 0 bytes: nothing in the Glue rows says so.
    put_batch(s3, "b", ("2026", "10", "05", "03"), None, b"")
    put_batch(s3, "c", ("2026", "10", "08", "07"), "2026-10-08", b"")
    # A manifest written today for yesterday's event hour: recorded, not lost.
    put_batch(s3, "d", ("2026", "10", "10", "23"), "2026-10-11",
              line("2026-10-10", "23", "2026-10-11T01:00:00Z"))  # fmt: skip
    # Older than the look-back: not listed (the documented bound).
    put_batch(s3, "e", ("2026", "09", "01", "01"), None, b"")
    # Truncated: read (yesterday's arrivals), it names hour 05 of its batch but not 06.
    put_batch(s3, "f", ("2026", "10", "09", "05"), "2026-10-10",
              line("2026-10-09", "05", "2026-10-10T12:00:00Z"))  # fmt: skip
    put_batch(s3, "f", ("2026", "10", "09", "06"), None, b"")
    # Compaction's output has no manifest of its own name: not checked.
    put_batch(s3, layout.compacted_names("g", 1)[0], ("2026", "10", "06", "02"), None, b"")
    moto.queue_athena_results(
        [["n"], ["1"]],
        [["watermark"], ["2026-10-10 00:00:00.000"]],
        [
            ["event_date", "event_hour", "arrived_at", "first_ingested_at", "year", "month", "day"],
            ["2026-10-10", "10", "2026-10-10T11:00:00Z", "2026-10-10T11:00:00Z",
             "2026", "10", "10"],
        ],
    )  # fmt: skip
    target = resolve_target("athena", env)
    read = athena_reader(env, target.schema)
    plan = plan_scheduled_run(target, read, env, layout.lake_root({}), RUN_DATE,
                              default_window_days=7)  # fmt: skip
    assert plan.unrecorded_hours == (
        (date(2026, 10, 5), "03"), (date(2026, 10, 8), "07"), (date(2026, 10, 9), "06"),
    )  # fmt: skip
    assert plan_counts(plan) == {"event_hours_without_manifest": 3, "empty_manifests": 1}
    for day in (4, 5, 6, 7, 8, 9, 10, 11):
        assert date(2026, 10, day) in plan.full_dates, plan.full_dates
    assert date(2026, 9, 1) not in plan.dates
    assert not plan.patch_dates


def test_athena_plan_refuses_without_the_lake_bucket(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = athena_env(moto, monkeypatch) | {LAKE_ENV: ""}
    moto.client("athena").create_work_group(Name="weblogs")
    target = resolve_target("athena", env)
    with pytest.raises(ConfigError, match=f"{LAKE_ENV} is not set"):
        plan_scheduled_run(target, athena_reader(env, target.schema), env,
                           layout.lake_root({}), RUN_DATE, default_window_days=7)  # fmt: skip
    for address in ("/data", "s3://no_such:bucket/"):
        with pytest.raises(ConfigError, match=LAKE_ENV):
            plan_scheduled_run(target, athena_reader(env, target.schema), env | {LAKE_ENV: address},
                               layout.lake_root({}), RUN_DATE, default_window_days=7)  # fmt: skip
    # Refused before any query: moto's Athena was asked nothing.
    assert not moto.client("athena").list_query_executions()["QueryExecutionIds"]


def test_the_listing_is_bounded_by_the_look_back_or_the_runs_interval() -> None:
    events, arrivals = listed_days(RUN_DATE, [date(2026, 10, 10)], date(2026, 10, 11))
    assert len(events) == LOOKBACK_DAYS
    assert events[-1] == date(2026, 10, 10)
    assert arrivals[0] == events[0].replace(day=events[0].day - 1)
    assert arrivals[-1] == date(2026, 10, 11)
    long_gap = [date(2026, 8, 1)]  # the last run was in August: the interval is listed
    events, _ = listed_days(RUN_DATE, long_gap, date(2026, 10, 11))
    assert events[0] == date(2026, 8, 1)


def test_a_manifests_bytes_hostile_or_gzipped() -> None:
    named = line("2026-10-09", "05", "2026-10-10T12:00:00Z")
    assert manifest_hours(named + b"\n  \n", False) == (False, {(date(2026, 10, 9), "05")})
    assert manifest_hours(gzip.compress(named), True) == (False, {(date(2026, 10, 9), "05")})
    assert manifest_hours(b"", False) == (True, frozenset())
    assert manifest_hours(b"\n\n", False) == (True, frozenset())
    # Unreadable bytes or lines name no hour, but the manifest is not empty: its objects count
    # as unrecorded (rebuilt), never as recorded.
    for hostile in (b"\xff\xfe", b"[1, 2]\n", b'{"event_date": "2026-02-30", "event_hour": "01"}',
                    b'{"event_date": 20261009, "event_hour": 5}', b"not json"):  # fmt: skip
        assert manifest_hours(hostile, False) == (False, frozenset()), hostile
    assert manifest_hours(b"not gzip", True) == (False, frozenset())
