"""Failure notices: one per batch of failures (never one per record), to SNS or to the log."""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger("weblogs.notify")


class Notifier(Protocol):
    def notify(self, subject: str, message: str) -> None: ...


class SnsNotifier:
    """Publishes to an SNS topic; the subject is cut to SNS' 100 characters."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn

    def notify(self, subject: str, message: str) -> None:
        self.client.publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=message)


class LogNotifier:
    """No SNS topic (local runs, or none configured): the notice goes to the log."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        self.level = level
        self.sent: list[tuple[str, str]] = []

    def notify(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))
        log.log(self.level, "notification (no SNS topic): %s", subject)
