"""The strict key parser and the DDL builder: no crafted key can change a statement."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.s3toathena import ConfigError, Settings, partitions_from_event
from weblogs.core.partitions import (
    Partition,
    Rejected,
    add_partitions_sql,
    parse_partition_key,
    validate_bucket,
    validate_identifier,
)

NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
BUCKET = "weblogs-bucket-test"
GOOD = "events/year=2026/month=10/day=01/hour=07/shardId-000000000000_1_9.parquet"

# Exactly the statements the registration may produce, nothing else.
STATEMENT_RE = re.compile(
    r"ALTER TABLE `weblogs`\.`events` ADD IF NOT EXISTS\n"
    r"(PARTITION \(year = '[0-9]{4}', month = '[0-9]{2}', day = '[0-9]{2}', hour = '[0-9]{2}'\) "
    r"LOCATION 's3://weblogs-bucket-test/events/year=[0-9]{4}/month=[0-9]{2}/day=[0-9]{2}/"
    r"hour=[0-9]{2}/'\n?)+",
)


def parse(key: str, bucket: str = BUCKET) -> Partition | Rejected:
    return parse_partition_key(bucket, key, expected_bucket=BUCKET, now=NOW)


def test_valid_key_parses_to_zero_padded_strings() -> None:
    part = parse(GOOD)
    assert part == Partition(2026, 10, 1, 7)
    assert part.values == ("2026", "10", "01", "07")
    assert part.location(BUCKET) == f"s3://{BUCKET}/events/year=2026/month=10/day=01/hour=07/"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (
            "events/year=2026/month=10/day=01/hour=07/x'; DROP TABLE events; --.parquet",
            "key_pattern",
        ),
        ("events/year=2026'/month=10/day=01/hour=07/a.parquet", "key_pattern"),
        (
            "events/year=2026/month=10/day=01/hour=07') LOCATION 's3://evil/'/a.parquet",
            "key_pattern",
        ),
        ("events/year=2026/month=10/day=01/hour=07/a.parquet;", "key_pattern"),
        ("events/year=２０２６/month=10/day=01/hour=07/a.parquet", "key_pattern"),  # fullwidth
        ("events/year=٢٠٢٦/month=10/day=01/hour=07/a.parquet", "key_pattern"),  # arabic-indic
        ("events/year=2026/month=10/day=01/hour=07/../../secret/a.parquet", "key_pattern"),
        ("events/year=2026/month=10/day=01/hour=07/a..parquet", "key_pattern"),
        ("events/year=2026/month=10/../day=01/hour=07/a.parquet", "key_pattern"),
        ("events/year=2026%2Fmonth=10/day=01/hour=07/a.parquet", "key_pattern"),
        ("events/year=2026/month=13/day=01/hour=07/a.parquet", "not_a_calendar_hour"),
        ("events/year=2026/month=00/day=01/hour=07/a.parquet", "not_a_calendar_hour"),
        ("events/year=2026/month=02/day=30/hour=07/a.parquet", "not_a_calendar_hour"),
        ("events/year=2025/month=02/day=29/hour=07/a.parquet", "not_a_calendar_hour"),
        ("events/year=2026/month=10/day=01/hour=24/a.parquet", "not_a_calendar_hour"),
        ("events/year=1999/month=12/day=31/hour=23/a.parquet", "partition_out_of_range"),
        ("events/year=2026/month=10/day=02/hour=13/a.parquet", "partition_out_of_range"),
        ("events/year=2026/month=10/day=01/hour=7/a.parquet", "key_pattern"),
        ("events/year=2026/month=10/day=01/hour=07/a.json", "key_pattern"),
        ("events/year=2026/month=10/day=01/hour=07/.hidden.parquet", "key_pattern"),
        ("events/year=2026/month=10/day=01/hour=07/sub/a.parquet", "key_pattern"),
        ("raw/year=2026/month=10/day=01/hour=07/a.parquet", "key_pattern"),
        ("failed_records/events/year=2026/month=10/day=01/hour=07/a.parquet", "key_pattern"),
        ("/events/year=2026/month=10/day=01/hour=07/a.parquet", "key_pattern"),
        ("events/year=2026/month=10/day=01/hour=07/a.parquet\n", "key_pattern"),
        ("EVENTS/YEAR=2026/month=10/day=01/hour=07/a.parquet", "key_pattern"),
    ],
)
def test_hostile_or_invalid_keys_are_rejected(key: str, reason: str) -> None:
    result = parse(key)
    assert isinstance(result, Rejected)
    assert result.reason.startswith(reason)


def test_leap_day_is_a_real_date() -> None:
    assert parse("events/year=2024/month=02/day=29/hour=23/a.parquet") == Partition(2024, 2, 29, 23)


def test_future_hour_within_one_day_is_accepted() -> None:
    assert parse("events/year=2026/month=10/day=02/hour=12/a.parquet") == Partition(2026, 10, 2, 12)


def test_wrong_bucket_is_rejected() -> None:
    assert parse(GOOD, bucket="someone-elses-bucket") == Rejected("unexpected_bucket")


def test_statement_is_built_from_parsed_values_only() -> None:
    sql = add_partitions_sql(
        "weblogs", "events", BUCKET, [Partition(2026, 10, 1, 7), Partition(2026, 1, 2, 3)]
    )
    assert sql == (
        "ALTER TABLE `weblogs`.`events` ADD IF NOT EXISTS\n"
        "PARTITION (year = '2026', month = '01', day = '02', hour = '03') "
        f"LOCATION 's3://{BUCKET}/events/year=2026/month=01/day=02/hour=03/'\n"
        "PARTITION (year = '2026', month = '10', day = '01', hour = '07') "
        f"LOCATION 's3://{BUCKET}/events/year=2026/month=10/day=01/hour=07/'"
    )


@pytest.mark.parametrize(
    ("database", "table", "bucket"),
    [
        ("weblogs`; DROP DATABASE x; --", "events", BUCKET),
        ("weblogs", "Events", BUCKET),
        ("weblogs", "events", "bucket'/x"),
        ("weblogs", "events", "a..b"),
        ("", "events", BUCKET),
    ],
)
def test_configuration_cannot_inject_either(database: str, table: str, bucket: str) -> None:
    with pytest.raises(ValueError):
        add_partitions_sql(database, table, bucket, [Partition(2026, 10, 1, 7)])


def test_settings_validate_environment() -> None:
    env = {
        "ATHENA_DATABASE": "weblogs",
        "ATHENA_TABLE": "events",
        "S3_BUCKET": BUCKET,
        "REGION": "us-east-1",
        "ATHENA_OUTPUT": f"s3://{BUCKET}/athena_output/",
    }
    assert Settings.from_env(env).mode == "athena"
    assert Settings.from_env({**env, "PARTITION_REGISTRATION": "GLUE"}).mode == "glue"
    with pytest.raises(ConfigError, match="ATHENA_TABLE"):
        Settings.from_env({k: v for k, v in env.items() if k != "ATHENA_TABLE"})
    with pytest.raises(ConfigError, match="PARTITION_REGISTRATION"):
        Settings.from_env({**env, "PARTITION_REGISTRATION": "msck"})
    with pytest.raises(ConfigError, match="ATHENA_DATABASE"):
        Settings.from_env({**env, "ATHENA_DATABASE": "web-logs"})
    with pytest.raises(ConfigError, match="ATHENA_OUTPUT"):
        Settings.from_env({**env, "ATHENA_OUTPUT": "/tmp/out"})
    assert validate_identifier("events_v2", "t") == "events_v2"
    assert validate_bucket("my.bucket-1") == "my.bucket-1"


def _record(key: str, *, bucket: str = BUCKET, name: str = "ObjectCreated:Put") -> dict:
    return {"eventName": name, "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}


def test_event_keys_are_url_decoded_once_and_deduplicated() -> None:
    encoded = "events/year%3D2026/month%3D10/day%3D01/hour%3D07/part%2B1.parquet"
    event = {
        "Records": [
            _record(encoded),
            _record(GOOD),
            _record("events/year=2026/month=10/day=01/hour=08/b.parquet"),
            _record("events/year%253D2026/month=10/day=01/hour=07/a.parquet"),  # double-encoded
            _record("events/year=2026/month=10/day=01/hour=07/a+b.parquet"),  # '+' is a space
            _record(GOOD, name="ObjectRemoved:Delete"),
            _record(GOOD, bucket="other-bucket"),
            {"eventName": "ObjectCreated:Put"},
        ]
    }
    parsed = partitions_from_event(event, bucket=BUCKET, now=NOW)
    assert parsed.partitions == [Partition(2026, 10, 1, 7), Partition(2026, 10, 1, 8)]
    assert parsed.records == 8
    assert sorted(reason for _, reason in parsed.skipped) == [
        "key_pattern_mismatch",
        "key_pattern_mismatch",
        "malformed_record",
        "not_object_created",
        "unexpected_bucket",
    ]


def test_s3_test_event_is_ignored() -> None:
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    parsed = partitions_from_event(event, bucket=BUCKET, now=NOW)
    assert parsed.partitions == [] and parsed.skipped == []


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=120),
        st.builds(
            lambda y, m, d, h, f: f"events/year={y}/month={m}/day={d}/hour={h}/{f}.parquet",
            st.text(min_size=1, max_size=5),
            st.text(min_size=1, max_size=3),
            st.text(min_size=1, max_size=3),
            st.text(min_size=1, max_size=3),
            st.text(min_size=1, max_size=20),
        ),
    )
)
def test_no_key_can_change_the_statement_shape(key: str) -> None:
    result = parse(key)
    if isinstance(result, Rejected):
        return
    sql = add_partitions_sql("weblogs", "events", BUCKET, [result])
    assert STATEMENT_RE.fullmatch(sql), sql
    assert key.startswith(result.prefix)
