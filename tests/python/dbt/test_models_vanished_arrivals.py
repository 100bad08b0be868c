"""Arrivals manifests that vanish are reported, and their sessions are built anyway.

Issue 25's "Why": with the newest day's manifests deleted, a manifest emptied
to 0 bytes, or every manifest gone while the events are there, the scheduled
run printed "no events arrived", exited 0 and left sessions out. Now the run
lists the event objects against the manifests (weblogs.analytics.scheduled),
says so in one WARNING line, and rebuilds the dates of the unrecorded event
hours: every session of the lake is in the marts (docs/operations.md, When
arrivals vanish).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dbt_helpers import build_fixture_lake, event, reference_marts, write_jsonl
from test_models_runner import clean_env, weblogs

pytestmark = pytest.mark.slow


def sessions(database: Path) -> set[tuple[str, str]]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("select session_id, session_date from main.engagement_metrics")
        return {(str(s), str(d)) for s, d in rows.fetchall()}


def expected_sessions(lake: Path) -> set[tuple[str, str]]:
    rows = reference_marts(lake, "2000-01-01", "2999-12-31")["engagement_metrics"]
    return {(str(r["session_id"]), str(r["session_date"])) for r in rows}


def transform_at(tmp_path: Path, lake: Path, name: str, events: list[dict], now: str) -> None:
    import subprocess

    from dbt_helpers import WEBLOGS

    source = write_jsonl(tmp_path / f"{name}.jsonl", events)
    subprocess.run(
        [WEBLOGS, "transform", "--input", str(source), "--lake", str(lake)],
        env=clean_env(tmp_path, WEBLOGS_NOW=now), cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip


def manifests(lake: Path) -> list[Path]:
    return sorted((lake / "arrivals").rglob("*.jsonl"))


def test_every_manifest_deleted_while_events_exist(tmp_path: Path) -> None:
    lake = build_fixture_lake(tmp_path)
    for path in manifests(lake):
        path.unlink()
    database = tmp_path / "w.duckdb"
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    done = weblogs(
        tmp_path, "--lake", str(lake), "--duckdb", str(database),
        WEBLOGS_NOW=f"{tomorrow}T00:30:00Z",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no events arrived" not in done.stdout
    assert "event hour(s) of the lake have no arrivals manifest" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert sessions(database) == expected_sessions(lake)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture lake and its first scheduled run, done once for the three attacks: the
    folder it ran in and a copy of it as the run left it (lake, database, target)."""
    base = tmp_path_factory.mktemp("vanish")
    work = base / "work"
    work.mkdir()
    lake = build_fixture_lake(work)
    today = datetime.now(UTC).date()
    first = weblogs(
        work, "--lake", str(lake), "--duckdb", str(work / "w.duckdb"),
        WEBLOGS_NOW=f"{today + timedelta(days=1)}T00:30:00Z",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    shutil.copytree(work, base / "after-first-run", symlinks=True)
    return work, base / "after-first-run"


@pytest.mark.parametrize("attack", ["deleted", "emptied", "lines truncated"])
def test_the_newest_days_manifest_vanishes(first_run: tuple[Path, Path], attack: str) -> None:
    # Each attack starts from the first run's state, in the folder it ran in (same paths).
    work, saved = first_run
    shutil.rmtree(work)
    shutil.copytree(saved, work, symlinks=True)
    lake = work / "lake"
    database = work / "w.duckdb"
    today = datetime.now(UTC).date()
    args = ("--lake", str(lake), "--duckdb", str(database))
    before = set(manifests(lake))
    late = [
        event("vanish-a", "page_view", "2026-10-03T10:00:00", "/", user_id="u-v"),
        event("vanish-b", "page_view", "2026-09-25T08:00:00", "/b", user_id="u-v"),
    ]
    transform_at(work, lake, "late", late, f"{today + timedelta(days=1)}T10:00:00Z")
    (written,) = set(manifests(lake)) - before
    if attack == "deleted":
        written.unlink()
    elif attack == "emptied":
        written.write_bytes(b"")
    else:  # a manifest cut at a line boundary: the first event hour is still named
        written.write_text(written.read_text().splitlines()[0] + "\n")
    second = weblogs(work, *args, WEBLOGS_NOW=f"{today + timedelta(days=2)}T00:30:00Z")
    assert second.returncode == 0, second.stderr
    assert "no events arrived" not in second.stdout
    assert "event hour(s) of the lake have no arrivals manifest" in second.stderr, second.stderr
    if attack == "emptied":
        assert "1 empty arrivals manifest(s)" in second.stderr, second.stderr
    held = sessions(database)
    assert {("vanish-a", "2026-10-03"), ("vanish-b", "2026-09-25")} <= held
    assert held == expected_sessions(lake)
