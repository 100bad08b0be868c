"""The README's first steps on a fresh clone, end to end: what `make demo` runs (on a small
event count; it runs dbt for real), then what `make dashboard` runs on the demo's
warehouse, then every dashboard page opened in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
from browser import chromium, figures, marts_figures, served
from dbt_helpers import REPO_ROOT

from weblogs.dashboard import ALL_PAGES

#: Not in a clone: the virtualenv, the npm install, what builds and runs write.
NOT_CLONED = (".git", ".venv", "node_modules", "data", "target", "logs", "__pycache__")


def fresh_clone(dest: Path) -> Path:
    """The working tree as a clone of it would have it: the files git tracks, plus new
    ones not ignored (the change under test); no data/, target/ or virtualenv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.decode().split("\0")):
            source = REPO_ROOT / name
            if source.is_file():  # a tracked file deleted in the tree is not cloned
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
    else:  # a tree without git (an unpacked release)
        shutil.copytree(REPO_ROOT, dest, ignore=shutil.ignore_patterns(*NOT_CLONED))
    return dest


def test_make_demo_and_make_dashboard_on_a_fresh_clone(tmp_path: Path) -> None:
    """`make demo && make dashboard` as a new user runs them, on a fresh clone.

    The clone reuses this virtualenv and the npm install of dashboard/package-lock.json
    (`make venv` and `make dashboard-install` need the registries, not under test here):
    `-o` tells make they are done. PYTHONPATH puts the clone's own package first, so
    dbt runs the clone's project and writes its target/ and data/.
    """
    clone = fresh_clone(tmp_path / "weblogs")
    assert not (clone / "data").exists() and not (clone / "target").exists()
    (clone / "dashboard" / "node_modules").symlink_to(REPO_ROOT / "dashboard" / "node_modules")
    venv = Path(sys.executable).parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBLOGS_")}
    env["PYTHONPATH"] = str(clone)
    done_already = ["-o", f"{venv}/.installed", "-o", "dashboard/node_modules/.package-lock.json"]
    make = ["make", "--no-print-directory", "-C", str(clone), f"VENV={venv}", *done_already]
    done = subprocess.run(
        [*make, "DEMO_ARGS=--events 1500", "demo", "dashboard"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    data = clone / "data"
    lake, db, site = data / "lake", data / "weblogs.duckdb", data / "dashboard"
    for step in ("1/4 ingestion", "2/4 transformation", "3/4 models", "4/4 where everything went"):
        assert step in out
    for mart in ("engagement_metrics", "session_metrics", "loyalty_metrics", "loyalty_by_tier"):
        assert mart in out
    for title in ("revenue by channel", "goal conversion rates", "top 10 countries",
                  "top 10 operating systems"):  # fmt: skip
        assert title in out
    assert (lake / ".weblogs-demo").exists()
    assert (clone / "target" / "semantic_manifest.json").is_file()  # the clone's dbt project
    with duckdb.connect(str(db), read_only=True) as con:
        sessions, oldest, newest = con.execute(
            "select count(*), cast(min(session_date) as varchar),"
            " cast(max(session_date) as varchar) from engagement_metrics"
        ).fetchone()
        visitors, identified = con.execute(
            "select count(*), sum(case when is_identified then 1 else 0 end) from users"
        ).fetchone()
    assert sessions > 50
    # The demo says where its dashboards are; `make dashboard` rebuilt them there.
    assert f"dashboard: file://{site / 'index.html'}" in out
    assert f"dashboard: open file://{site / 'index.html'}" in out
    # The visitors headline: returning devices, some of them logged in.
    headline = out.split("\nvisitors (users")[1].split("\n\n")[0].splitlines()[3].split()
    assert headline[0] == str(visitors) and 0 < identified < visitors
    # Polled = forwarded + failed: the consumer's accounting, as the demo prints it.
    line = next(x for x in out.splitlines() if "polled" in x)
    numbers = [int(w.strip(",")) for w in line.split() if w.strip(",").isdigit()]
    assert numbers[0] == 1500 and numbers[0] == numbers[1] + numbers[2]

    # Every page renders in Chromium with no console message, and is drawn.
    with served(site) as base:
        for page in ALL_PAGES:
            url = f"{base}{page.path}index.html"
            shot = tmp_path / f"{page.slug or 'overview'}.png"
            dom, console = chromium(
                url, tmp_path / f"dom-{page.slug}", "--dump-dom", f"--screenshot={shot}"
            )
            assert console == [], (page.title, console)
            assert 'data-rendered="true"' in dom, page.title
            assert '<pre id="errors" hidden="">' in dom, page.title
            assert shot.stat().st_size > 20_000, page.title  # drawn, not a blank page
            if page.slug == "":
                # The Overview's headline figures (the whole demo range) equal the marts'.
                shown = {k: v[0] for k, v in figures(dom).items()}
                assert shown == marts_figures(db, oldest, newest)
                assert shown["sessions"] == sessions


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
