"""The scheduled run's monitoring: freshness, warn-level tests, new anomalies, one SNS message.

Before, `dbt source freshness` was declared but no scheduled run executed it, and
warn-level tests and new rows of `session_anomalies` reached nobody.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from awsfixtures import MotoServer
from dbt_helpers import (
    WEBLOGS,
    build_fixture_lake,
)

from weblogs.analytics.dbt_build import plan_counts, plan_notes
from weblogs.analytics.dbt_process import DbtRun
from weblogs.analytics.monitoring import Findings, freshness_results, publish, warned_tests
from weblogs.core.errors import ModelsError
from weblogs.core.run_plan import RunPlan


def events(*items: tuple[str, dict]) -> DbtRun:
    return DbtRun(
        0, [{"info": {"name": name, "level": "info"}, "data": data} for name, data in items]
    )


def test_freshness_and_warn_tests_are_read_from_dbts_events() -> None:
    findings = Findings()
    freshness_results(
        events(
            (
                "LogFreshnessResult",
                {"source_name": "crm", "table_name": "customers", "status": "pass"},
            ),
            (
                "LogFreshnessResult",
                {"source_name": "crm", "table_name": "ratings", "status": "warn"},
            ),
            (
                "LogFreshnessResult",
                {"source_name": "weblogs", "table_name": "events", "status": "error"},
            ),
        ),
        findings,
    )
    warned_tests(
        events(
            ("LogTestResult", {"name": "not_null_x", "status": "warn", "num_failures": 2}),
            ("LogTestResult", {"name": "unique_y", "status": "pass", "num_failures": 0}),
        ),
        findings,
    )
    assert findings.failed and findings.stale == ["weblogs.events: error"]
    assert findings.late_sources == ["crm.ratings"]
    assert findings.warned_tests == ["not_null_x: 2 rows"]
    assert "weblogs models: ERROR: stale source weblogs.events: error" in findings.lines()


def test_one_message_per_run_on_the_alarm_topic_without_personal_data(
    moto_server: MotoServer,
) -> None:
    moto_server.reset()
    sns, sqs = moto_server.client("sns"), moto_server.client("sqs")
    topic = sns.create_topic(Name="weblogs-alarms")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    findings = Findings(
        warned_tests=[f"test_{n}: 1 rows" for n in range(9)],
        anomalies={"event_more_than_24_hours_after_its_session_start": 3},
        anomaly_examples=[
            "2026-10-02 event_more_than_24_hours_after_its_session_start (page_view): 3"
        ],
    )
    assert not publish(findings, "2026-10-08", {}, "us-east-1")  # no topic: nothing sent
    assert publish(findings, "2026-10-08", {"WEBLOGS_ALARM_TOPIC_ARN": topic}, "us-east-1")
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 1
    envelope = json.loads(got[0]["Body"])
    body = json.loads(envelope["Message"])
    assert envelope["Subject"] == "weblogs models 2026-10-08: report"
    assert body["warn_tests"] == 9 and len(body["warn_test_examples"]) == 5
    assert body["new_anomalies"] == {"event_more_than_24_hours_after_its_session_start": 3}
    for word in ("user_id", "session_id", "u-"):
        assert word not in envelope["Message"]
    # A topic that cannot take the message fails the run in one line, not a traceback.
    gone = {"WEBLOGS_ALARM_TOPIC_ARN": topic.replace("weblogs-alarms", "gone")}
    with pytest.raises(ModelsError, match="could not publish the run report to arn:"):
        publish(findings, "2026-10-08", gone, "us-east-1")
    moto_server.reset()


def test_the_arrivals_anomalies_are_one_line_each_and_counted_in_the_message() -> None:
    """Event hours whose manifest vanished and empty manifests: loud, counted, no ids."""

    plan = RunPlan(
        date(2026, 10, 11), datetime(2026, 10, 10), datetime(2026, 10, 11),
        unrecorded_hours=((date(2026, 9, 25), "08"), (date(2026, 10, 3), "10")),
        empty_manifests=1, gap_days=(date(2026, 10, 9),),
    )  # fmt: skip
    notes = plan_notes(plan)
    assert notes["event_hours_without_manifest"].startswith(
        "2 event hour(s) of the lake have no arrivals manifest (deleted, emptied or truncated), "
        "on 2 date(s) 2026-09-25 .. 2026-10-03: rebuilt whole"
    )
    assert notes["empty_manifests"] == "1 empty arrivals manifest(s) (0 bytes)"
    assert all("\n" not in note for note in notes.values())
    counts = plan_counts(plan)
    assert counts == {
        "arrival_days_without_manifest": 1,
        "event_hours_without_manifest": 2,
        "empty_manifests": 1,
    }
    assert Findings(arrivals=counts).message("2026-10-11")["arrivals"] == counts
    assert (
        plan_counts(RunPlan(date(2026, 10, 11), datetime(2026, 10, 10), datetime(2026, 10, 11)))
        == {}
    )


@pytest.mark.slow
def test_a_stale_source_fails_the_scheduled_run_in_one_line(tmp_path: Path) -> None:
    """The fixture's events are weeks old: freshness errors, the run exits 1 (the ECS alarm)."""
    lake = build_fixture_lake(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBLOGS_", "DBT_"))}
    env |= {"DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")}
    done = subprocess.run(
        [WEBLOGS, "models", "--lake", str(lake), "--duckdb", str(tmp_path / "w.duckdb")],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "stale source(s): weblogs.events: error" in done.stderr
