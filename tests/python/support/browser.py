"""Headless Chromium for the dashboard tests (tests/python/dbt/test_dashboard.py and
test_demo.py): a site served on loopback, its DOM and console read back, and the
Overview's headline figures as the marts compute them."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """The folder served on 127.0.0.1; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium(url: str, profile: Path, *mode: str) -> tuple[str, list[str]]:
    """Headless Chromium, loopback only; (stdout, the page's console messages)."""
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--window-size=1400,1400",
            *mode,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def number(text: str) -> float | None:
    return None if text == "null" else float(text)


def figures(dom: str) -> dict[str, tuple[float | None, float | None]]:
    """A page's figures as shown: id -> (value, previous period's value)."""
    found = re.findall(
        r'id="figure-(\w+)".*?class="value" data-value="([^"]*)".*?'
        r'class="previous" data-value="([^"]*)"',
        dom,
        flags=re.S,
    )
    return {name: (number(now), number(before)) for name, now, before in found}


def marts_figures(warehouse: Path, start: str, end: str) -> dict[str, float | None]:
    """The Overview's figures straight from the marts, with the marts' own rounding."""
    sql = """
        select
            count(*),
            count(distinct user_id),
            round(100 * avg(case when is_bounce then 1 else 0 end), 2),
            round(100 * avg(case when converted then 1 else 0 end), 2),
            round(avg(round(engagement_score, 2)), 2),
            coalesce(sum(purchases), 0),
            coalesce(sum(revenue), 0)
        from engagement_metrics
        where session_date between ? and ?
    """
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(sql, [start, end]).fetchone()
    names = ("sessions", "visitors", "bounce_rate", "conversion_rate", "avg_engagement")
    values = dict(zip((*names, "purchases", "revenue"), row, strict=True))
    return {k: None if v is None else float(v) for k, v in values.items()}
