"""The Lambdas under malformed input: a bad record fails alone, a bad event never raises.

A record is reported for retry only when storing it failed, never because of its
content; event shapes Lambda should never send (a list, null, records without
their `kinesis` part) are logged and counted, not raised.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from awsfixtures import MotoServer
from eventfactory import valid_event
from test_lambda_transformation import (  # noqa: F401 - `aws` is a fixture
    BUCKET,
    CONTEXT,
    all_keys,
    aws,
    kinesis_event,
    s3_rows,
)

from lambdas import s3toathena, transformation

POISON = "9" * 4400


def failed_lines(s3: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in all_keys(s3):
        if key.startswith("failed_transformation_records/"):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            out.extend(json.loads(line) for line in body.splitlines())
    return out


def good_payloads(count: int) -> list[bytes]:
    return [orjson.dumps(valid_event(i)) for i in range(count)]


def test_a_poison_timestamp_fails_alone_in_a_batch(
    moto_server: MotoServer,
    aws: dict[str, Any],  # noqa: F811 - the fixture imported above
) -> None:
    payloads = good_payloads(5)
    payloads.insert(2, orjson.dumps(valid_event(50, timestamp=POISON)))
    event = kinesis_event(moto_server, payloads)
    assert transformation.handler(event, CONTEXT) == {"batchItemFailures": []}
    assert sorted(r["event_id"] for r in s3_rows(aws["s3"])) == [f"e-{i}" for i in range(5)]
    [failed] = failed_lines(aws["s3"])
    assert failed["reason"] == "invalid_timestamp"


@pytest.mark.parametrize(
    "damage",
    [
        "no_arrival",
        "string_arrival",
        "null_arrival",
        "no_kinesis",
        "kinesis_not_a_dict",
        "no_data",
        "data_not_a_string",
        "no_sequence_number",
        "record_not_a_dict",
        "no_event_id",
        "data_not_base64",
        "data_not_ascii",
        "data_lone_surrogate",
        "nan_arrival",
        "infinite_arrival",
        "negative_arrival",
    ],
)
def test_a_malformed_record_never_fails_the_batch(
    moto_server: MotoServer,
    aws: dict[str, Any],  # noqa: F811
    damage: str,
) -> None:
    event = kinesis_event(moto_server, good_payloads(5))
    records = event["Records"]
    bad = records[2]
    kinesis = bad["kinesis"]
    if damage == "no_arrival":
        del kinesis["approximateArrivalTimestamp"]
    elif damage == "string_arrival":
        kinesis["approximateArrivalTimestamp"] = "yesterday"
    elif damage == "null_arrival":
        kinesis["approximateArrivalTimestamp"] = None
    elif damage == "no_kinesis":
        del bad["kinesis"]
    elif damage == "kinesis_not_a_dict":
        bad["kinesis"] = "x"
    elif damage == "no_data":
        del kinesis["data"]
    elif damage == "data_not_a_string":
        kinesis["data"] = 12
    elif damage == "no_sequence_number":
        del kinesis["sequenceNumber"]
    elif damage == "record_not_a_dict":
        records[2] = None
    elif damage == "no_event_id":
        del bad["eventID"]
    elif damage == "data_not_base64":
        kinesis["data"] = kinesis["data"][:-4] + "*!*="
    elif damage == "data_not_ascii":
        kinesis["data"] = "é" + kinesis["data"]
    elif damage == "data_lone_surrogate":
        kinesis["data"] = "\ud800" + kinesis["data"]
    elif damage.endswith("_arrival") and damage.split("_")[0] in ("nan", "infinite", "negative"):
        kinesis["approximateArrivalTimestamp"] = {
            "nan": float("nan"),
            "infinite": float("inf"),
            "negative": -1.0,
        }[damage.split("_")[0]]
    response = transformation.handler(copy.deepcopy(event), CONTEXT)
    assert response == {"batchItemFailures": []}
    rows = s3_rows(aws["s3"])
    metadata_only = damage.endswith("_arrival") or damage in (
        "no_event_id",
        "no_sequence_number",
    )
    expected = 5 if metadata_only else 4
    assert len(rows) == expected, damage
    failed = failed_lines(aws["s3"])
    assert len(rows) + len(failed) == 5
    # A retry of the same batch writes the same objects: nothing is added.
    keys = all_keys(aws["s3"])
    assert transformation.handler(copy.deepcopy(event), CONTEXT) == {"batchItemFailures": []}
    assert all_keys(aws["s3"]) == keys


@pytest.mark.parametrize(
    "event", [None, [], [1, 2], "Records", {"Records": None}, {"Records": "x"}, {"Records": [1]}]
)
def test_the_transformation_handler_never_raises_on_an_odd_event(
    aws: dict[str, Any],  # noqa: F811
    event: Any,
) -> None:
    assert transformation.handler(event, CONTEXT) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    "event",
    [None, [], [{"s3": {}}], "x", {"Records": None}, {"Records": [None, 1, {"s3": None}]}],
)
def test_s3toathena_never_raises_on_an_odd_event(
    monkeypatch: pytest.MonkeyPatch, event: Any
) -> None:
    for name, value in {
        "ATHENA_DATABASE": "weblogs",
        "ATHENA_TABLE": "events",
        "S3_BUCKET": "weblogs-test-bucket",
        "ATHENA_OUTPUT": "s3://weblogs-test-bucket/athena/",
        "REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    summary = s3toathena.handler(event, CONTEXT)
    assert summary["records"] == 0 or summary.get("skipped", 0) >= 1
