"""Running dbt as a child process: its own process group, stopped with the runner, errors in one line.

dbt logs in JSON (`--log-format json`): the runner reads the events' typed
fields (level, name, data), never the text dbt prints for people. Stopping the
runner (SIGTERM from ECS, Ctrl-C) stops dbt's whole process group, so no dbt
keeps running or holding the DuckDB lock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from weblogs.core.errors import ModelsError

#: How long dbt gets to finish its current statement after a stop, before SIGKILL.
STOP_GRACE_SECONDS = 20
ANSI = "\x1b["


class Stopped(ModelsError):
    """The runner was stopped by a signal; dbt was stopped with it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}; dbt was stopped too")
        self.signum = signum


@dataclass
class DbtRun:
    """One dbt invocation's outcome, from its JSON events."""

    returncode: int
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    def of(self, name: str) -> list[dict[str, Any]]:
        """The `data` of every event named `name` (dbt's event names, e.g. LogTestResult)."""
        return [e.get("data", {}) for e in self.events if e.get("info", {}).get("name") == name]

    def errors(self) -> list[str]:
        """Every error-level event's message, each on one line."""
        found = []
        for event in self.events:
            info = event.get("info", {})
            if info.get("level") != "error":
                continue
            data = event.get("data", {})
            text = data.get("exc") or data.get("msg") or info.get("msg") or ""
            line = one_line(str(text))
            if line and line not in found:
                found.append(line)
        return found

    def reason(self) -> str:
        """Why the run failed, in one line: the first errors dbt reported, with their reasons."""
        errors = self.errors()
        if errors:
            return "; ".join(errors[:3])
        tail = one_line(self.stderr.strip().splitlines()[-1]) if self.stderr.strip() else ""
        return tail or f"dbt exited with status {self.returncode}"


def _strip_ansi(text: str) -> str:
    out, index = [], 0
    while index < len(text):
        if text.startswith(ANSI, index):
            end = index + len(ANSI)
            while end < len(text) and not text[end].isalpha():
                end += 1
            index = end + 1
            continue
        out.append(text[index])
        index += 1
    return "".join(out)


def one_line(text: str) -> str:
    """A dbt message on one line: the headline and the reason, without the macro call stack."""
    lines = []
    for raw in _strip_ansi(text).splitlines():
        line = raw.strip()
        if not line or line.startswith(">") or line.endswith("Encountered an error:"):
            continue
        lines.append(line.removeprefix("[ERROR]:").strip())
    return " -- ".join(lines)


@contextmanager
def _stopping(process: subprocess.Popen[str]) -> Iterator[None]:
    """While dbt runs, SIGTERM/SIGINT stop its process group and end the run as Stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: its caller stops the run
        return

    def handler(signum: int, _frame: object) -> None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except Stopped:
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        raise
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def run_dbt(args: Sequence[str], env: Mapping[str, str]) -> DbtRun:
    """Run dbt (`args` after the executable) with JSON logs; returns its events."""
    command = [*args, "--log-format", "json"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        start_new_session=True,
    )
    with _stopping(process):
        stdout, stderr = process.communicate()
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return DbtRun(process.returncode, events, stderr)
