"""What a scheduled run tells its operators: source freshness, warn-level tests, new anomalies.

Printed in the run's summary; on AWS also one message per run on the alarm
topic (`WEBLOGS_ALARM_TOPIC_ARN`, set by the template): counts and the first
examples, test and rule names, dates and event types only, never an id of a
user or a session (docs/operations.md, Monitoring the daily run). A stale
source (error level) fails the run; warnings do not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from weblogs.adapters import aws
from weblogs.adapters.notify import SnsNotifier
from weblogs.analytics.dbt_process import DbtRun
from weblogs.analytics.readers import Reader
from weblogs.core.errors import ModelsError

TOPIC_ENV = "WEBLOGS_ALARM_TOPIC_ARN"
#: How many examples of each kind a message carries.
EXAMPLES = 5


@dataclass
class Findings:
    """One run's monitoring results."""

    stale: list[str] = field(default_factory=list)  # "source.table: error"
    late_sources: list[str] = field(default_factory=list)  # warn-level freshness
    warned_tests: list[str] = field(default_factory=list)  # "test_name: N rows"
    anomalies: dict[str, int] = field(default_factory=dict)  # rule -> rows
    anomaly_examples: list[str] = field(default_factory=list)
    freshness_skipped: str = ""
    #: The arrivals' anomalies by kind (weblogs.analytics.dbt_build.plan_counts).
    arrivals: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.stale)

    def lines(self) -> list[str]:
        out = []
        if self.freshness_skipped:
            out.append(f"source freshness: skipped ({self.freshness_skipped})")
        for name in self.stale:
            out.append(f"ERROR: stale source {name}")
        for name in self.late_sources:
            out.append(f"WARNING: late source {name}")
        for test in self.warned_tests:
            out.append(f"WARNING: test {test}")
        for rule, rows in sorted(self.anomalies.items()):
            out.append(f"WARNING: {rows} new session anomalies: {rule}")
        return [f"weblogs models: {line}" for line in out]

    def message(self, run: str) -> dict[str, object]:
        """The alarm topic's message: counts and the first examples, no personal data."""
        return {
            "run": run,
            "stale_sources": self.stale[:EXAMPLES],
            "late_sources": self.late_sources[:EXAMPLES],
            "warn_tests": len(self.warned_tests),
            "warn_test_examples": self.warned_tests[:EXAMPLES],
            "new_anomalies": self.anomalies,
            "anomaly_examples": self.anomaly_examples[:EXAMPLES],
            "arrivals": self.arrivals,
        }


def freshness_results(run: DbtRun, findings: Findings) -> None:
    """`dbt source freshness`'s results, from its JSON events."""
    for data in run.of("LogFreshnessResult"):
        name = f"{data.get('source_name')}.{data.get('table_name')}"
        status = str(data.get("status"))
        if status == "warn":
            findings.late_sources.append(name)
        elif status != "pass":
            findings.stale.append(f"{name}: {status}")


def warned_tests(run: DbtRun, findings: Findings) -> None:
    """The build's warn-level test results (an error-level failure already failed the build)."""
    for data in run.of("LogTestResult"):
        if data.get("status") == "warn":
            findings.warned_tests.append(f"{data.get('name')}: {data.get('num_failures')} rows")


def new_anomalies(read: Reader, schema: str, dates: Sequence[date], findings: Findings) -> None:
    """The session anomalies of the dates this run rebuilt, by rule (no ids)."""
    if not dates:
        return
    listed = ", ".join(f"date '{d.isoformat()}'" for d in dates)
    _, rows = read(
        f"select rule, report_date, event_type, count(*) as n from {schema}.session_anomalies"
        f" where report_date in ({listed}) group by rule, report_date, event_type"
        " order by report_date, rule, event_type"
    )
    for rule, report_date, event_type, count in rows:
        findings.anomalies[str(rule)] = findings.anomalies.get(str(rule), 0) + int(count)
        findings.anomaly_examples.append(f"{report_date} {rule} ({event_type}): {count}")


def publish(findings: Findings, run: str, env: Mapping[str, str], region: str | None) -> bool:
    """One message on the alarm topic when the environment names one; True if sent."""
    topic = env.get(TOPIC_ENV)
    if not topic:
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    subject = f"weblogs models {run}: " + ("FAILED, stale source" if findings.failed else "report")
    try:
        SnsNotifier(aws.client("sns", region), topic).notify(
            subject, json.dumps(findings.message(run), indent=1, default=str)
        )
    except (BotoCoreError, ClientError) as exc:
        # The report is part of the run: a run nobody hears of fails, in one line.
        raise ModelsError(f"could not publish the run report to {topic}: {exc}") from None
    return True
