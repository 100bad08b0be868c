"""bench/RESULTS.md holds the measured figures: each bench run appends one dated table
with its command (bench/results.py), and keeps every earlier run."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import results

REPO = Path(__file__).resolve().parents[3]
WHEN = datetime(2026, 12, 7, 4, 5, tzinfo=UTC)


def test_each_run_appends_a_dated_table_with_its_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "RESULTS.md"
    target.write_text("# Results\n\nan earlier run\n", encoding="utf-8")
    monkeypatch.setenv("WEBLOGS_BENCH_RESULTS", str(target))
    argv = [str(REPO / "bench" / "consume.py"), "--pages", "3"]
    results.record("bench/consume.py", [("events/s", 260_123), ("ratio", 2.7)], argv=argv, now=WHEN)
    results.record("bench/consume.py", [("a | b", "x\ny")], argv=argv, now=WHEN)
    text = target.read_text(encoding="utf-8")
    assert text.startswith(
        "# Results\n\nan earlier run\n\n## bench/consume.py: 2026-12-07 04:05 UTC"
    )
    assert text.count("## bench/consume.py: 2026-12-07 04:05 UTC\n") == 2
    assert "`.venv/bin/python bench/consume.py --pages 3` on " in text
    assert "| events/s | 260,123 |\n| ratio | 2.7 |\n" in text
    assert "| a \\| b | x y |\n" in text  # one line per row, the table intact


def test_a_run_with_no_figure_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBLOGS_BENCH_RESULTS", str(tmp_path / "RESULTS.md"))
    with pytest.raises(ValueError, match="at least one figure"):
        results.record("bench/x.py", [], argv=["bench/x.py"], now=WHEN)
    assert not (tmp_path / "RESULTS.md").exists()


def test_a_bench_script_appends_its_run(tmp_path: Path) -> None:
    """bench/consume.py on a tiny input: its figures land in the results file."""
    target = tmp_path / "RESULTS.md"
    env = {**os.environ, "WEBLOGS_BENCH_RESULTS": str(target)}
    done = subprocess.run(
        [sys.executable, "bench/consume.py", "--pages", "2", "--page-size", "50", "--repeat", "1",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    text = target.read_text(encoding="utf-8")
    assert text.startswith("## bench/consume.py: ")
    assert "`.venv/bin/python bench/consume.py --pages 2 --page-size 50" in text
    assert "| consumer (local backend), events/s | " in text


def test_the_results_file_holds_tables_with_commands() -> None:
    text = (REPO / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    runs = [block for block in text.split("\n## ")[1:] if " UTC" in block.split("\n", 1)[0]]
    assert runs, "no dated run in bench/RESULTS.md"
    for block in runs:
        assert "`" in block and "| figure |" in block, block[:200]
