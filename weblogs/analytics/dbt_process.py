"""Running dbt as a child process: its own process group, stopped with the runner, errors in one line.

The child is the dbt worker (dbt_worker.py): one process per run, which imports dbt and
parses the project once, then runs every dbt command of the run on that manifest.

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
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weblogs.analytics.dbt_worker import MARKER, SCRIPT
from weblogs.core.errors import ModelsError

#: How long dbt gets to finish its current statement after a stop, before SIGKILL.
STOP_GRACE_SECONDS = 20
ANSI = "\x1b["
#: The vars a run changes and dbt reads only at execution: the worker's parse leaves them
#: out, so dbt's partial parse survives from one run to the next (dbt_worker.py).
RUN_VARS = frozenset({"startdate", "enddate", "run_date", "run_plan", "allow_full_refresh"})


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


def _events(stdout: str) -> Iterator[dict[str, Any]]:
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def split_runs(stdout: str, stderr: str, count: int, returncode: int | None) -> list[DbtRun]:
    """The worker's output as one DbtRun per command: the events up to each marker (the
    parse's go with the first command); a command without a marker did not run."""
    runs: list[DbtRun] = []
    events: list[dict[str, Any]] = []
    for event in _events(stdout):
        marker = event.get(MARKER)
        if not isinstance(marker, dict):
            events.append(event)
            continue
        failed = marker.get("success") is not True
        runs.append(DbtRun(int(failed), events, str(marker.get("exception") or "")))
        events = []
    while len(runs) < count:
        reason = stderr.strip() or "the dbt worker ended before this command ran"
        runs.append(DbtRun(returncode or 1, events, reason))
        events = []
    return runs


class DbtSession:
    """One dbt worker process (dbt_worker.py): started before the runner knows its
    commands, so dbt's import and parse overlap the runner's own work; its own process
    group, stopped with the runner."""

    def __init__(self, args: Sequence[str], parse_vars: Mapping[str, Any], env: Mapping[str, str]):
        package_root = str(Path(__file__).resolve().parents[2])
        path = [package_root, *filter(None, [env.get("PYTHONPATH")])]
        self.process = subprocess.Popen(
            [sys.executable, "-P", str(SCRIPT)],  # not -m: dbt_worker.py, SCRIPT
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**env, "PYTHONPATH": os.pathsep.join(path)}, start_new_session=True,
        )  # fmt: skip
        self.parse_vars = dict(parse_vars)
        header = {"args": [*args, "--log-format", "json"], "vars": self.parse_vars}
        self._send(json.dumps(header) + "\n")

    def _send(self, text: str) -> None:
        stdin = self.process.stdin
        if stdin is not None:
            with suppress(BrokenPipeError):  # the worker died: its runs say why
                stdin.write(text)
                stdin.flush()

    def run(self, commands: Sequence[tuple[Sequence[str], Mapping[str, Any]]]) -> list[DbtRun]:
        """Run `commands` (dbt arguments, run vars) in order, each on the parsed manifest and
        with the parse's vars too; the worker stops at the first that fails. Once per session."""
        payload = [[list(c), {**self.parse_vars, **v}] for c, v in commands]
        if not payload:
            self.close()
            return []
        stdout, stderr = self.process.communicate(json.dumps(payload) + "\n")
        return split_runs(stdout, stderr, len(payload), self.process.returncode)

    def close(self) -> None:
        """Stop the worker if it still runs (the runner failed before handing it work)."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def dbt_session(
    args: Sequence[str], parse_vars: Mapping[str, Any], env: Mapping[str, str]
) -> Iterator[DbtSession]:
    """A started DbtSession for the block; a signal meanwhile stops it and ends the run."""
    session = DbtSession(args, parse_vars, env)
    try:
        with _stopping(session.process):
            yield session
    finally:
        session.close()
