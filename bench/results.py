"""Append one benchmark run to bench/RESULTS.md: a dated table with its command.

Measured figures live in one file apart from the reference docs, so the docs say how
things work and RESULTS.md says what was measured, when, how and on what load; a
figure can always be traced to the command that gives it again. Every script in
bench/ calls `record` once at the end of a run. `WEBLOGS_BENCH_RESULTS` names another
file (a dry run, a test); `-` prints the table instead of appending it.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
ROOT = Path(__file__).resolve().parents[1]


def command_line(argv: Sequence[str]) -> str:
    """The command as typed from the repository root (`python bench/x.py --flag`)."""
    script = Path(argv[0]).resolve() if argv else Path("?")
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join([".venv/bin/python", str(shown), *argv[1:]])


def cell(value: object) -> str:
    """A table cell: one line, `|` escaped, numbers with thousands separators."""
    if isinstance(value, float):
        text = f"{value:,}"  # the caller rounds
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return " ".join(text.split()).replace("|", "\\|")


def table(
    title: str,
    rows: Sequence[tuple[str, object]],
    argv: Sequence[str],
    now: datetime,
) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"## {title}: {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"`{command_line(argv)}` on {os.cpu_count()} cores, load average {load:.2f} "
        "at the end of the run.",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {cell(name)} | {cell(value)} |" for name, value in rows),
    ]
    return "\n".join(lines) + "\n"


def record(
    title: str,
    rows: Sequence[tuple[str, object]],
    *,
    argv: Sequence[str] | None = None,
    now: datetime | None = None,
) -> str:
    """Append the run's table to RESULTS.md (or `$WEBLOGS_BENCH_RESULTS`); return it."""
    if not rows:
        raise ValueError("a benchmark run records at least one figure")
    text = table(title, rows, sys.argv if argv is None else argv, now or datetime.now(UTC))
    target = os.environ.get("WEBLOGS_BENCH_RESULTS") or str(RESULTS)
    if target == "-":
        print(text)
        return text
    path = Path(target)
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    with path.open("a", encoding="utf-8") as out:
        out.write(("\n" if before and not before.endswith("\n\n") else "") + text)
    print(f"recorded in {path}")
    return text
