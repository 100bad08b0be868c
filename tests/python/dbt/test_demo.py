"""The README's demo command, end to end on a small event count (it runs dbt for real)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb


def test_demo_runs_the_whole_pipeline(tmp_path: Path) -> None:
    lake, db = tmp_path / "lake", tmp_path / "weblogs.duckdb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "weblogs",
            "demo",
            "--events",
            "1500",
            "--lake",
            str(lake),
            "--duckdb",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WEBLOGS_LAKE_ROOT": str(lake)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    for step in ("1/4 ingestion", "2/4 transformation", "3/4 models", "4/4 where everything went"):
        assert step in out
    for mart in ("engagement_metrics", "session_metrics", "loyalty_metrics", "loyalty_by_tier"):
        assert mart in out
    for title in ("revenue by channel", "goal conversion rates", "top 10 countries",
                  "top 10 operating systems"):  # fmt: skip
        assert title in out
    assert (lake / ".weblogs-demo").exists()
    with duckdb.connect(str(db), read_only=True) as con:
        sessions = con.execute("select count(*) from engagement_metrics").fetchone()[0]
    assert sessions > 50
    # The dashboards, built next to the warehouse; the demo says where.
    assert f"dashboard: file://{tmp_path / 'dashboard' / 'index.html'}" in out
    assert (tmp_path / "dashboard" / "data-health" / "index.html").is_file()
    # The visitors headline: returning devices, some of them logged in.
    headline = out.split("\nvisitors (users")[1].split("\n\n")[0].splitlines()[3].split()
    with duckdb.connect(str(db), read_only=True) as con:
        visitors, identified = con.execute(
            "select count(*), sum(case when is_identified then 1 else 0 end) from users"
        ).fetchone()
    assert headline[0] == str(visitors) and 0 < identified < visitors

    # Polled = forwarded + failed: the consumer's accounting, as the demo prints it.
    line = next(x for x in out.splitlines() if "polled" in x)
    numbers = [int(w.strip(",")) for w in line.split() if w.strip(",").isdigit()]
    assert numbers[0] == 1500 and numbers[0] == numbers[1] + numbers[2]


def test_demo_never_wipes_a_lake_it_did_not_create(tmp_path: Path) -> None:
    lake = tmp_path / "precious"
    lake.mkdir()
    (lake / "keep.txt").write_text("mine")
    done = subprocess.run(
        [sys.executable, "-m", "weblogs", "demo", "--events", "10", "--lake", str(lake)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "has data the demo did not write" in done.stderr
    assert "Traceback" not in done.stderr
    assert (lake / "keep.txt").read_text() == "mine"
