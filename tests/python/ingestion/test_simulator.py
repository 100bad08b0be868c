"""The traffic simulator: deterministic, realistic, and an HTTP API with injectable faults."""

from __future__ import annotations

import csv
import http.client
import itertools
import json
import subprocess
import sys
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError

import pytest

from weblogs.core.contract import Invalid, Valid, validate
from weblogs.simulator import DEFAULT_START, SimulatorServer, TrafficGenerator

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_same_seed_same_sequence_however_it_is_paged() -> None:
    whole = TrafficGenerator(11).events(1500)
    gen = TrafficGenerator(11)
    paged = gen.events(1) + gen.events(499) + gen.events(0) + gen.events(1000)
    assert paged == whole
    assert TrafficGenerator(12).events(1500) != whole
    assert json.loads(json.dumps(whole)) == whole  # JSON-able as served


def test_traffic_is_realistic_and_mixes_every_kind() -> None:
    gen = TrafficGenerator(3)
    items = gen.events(6000)
    results = [validate(item, now=NOW) for item in items]
    valid = [r for r in results if isinstance(r, Valid)]
    invalid = [r for r in results if isinstance(r, Invalid)]
    # ~2% malformed by default, every one with a contract reason.
    assert 0.01 < len(invalid) / len(items) < 0.035
    reasons = Counter(r.reason.split(":")[0] for r in invalid)
    assert {"not_an_object", "missing_field", "invalid_timestamp", "unknown_event_type"} <= set(
        reasons
    )
    assert sum(r.has_extra for r in valid) / len(valid) > 0.03
    # Exact duplicates: same event id and same content.
    ids = Counter(r.row["event_id"] for r in valid)
    assert 20 < sum(c - 1 for c in ids.values() if c > 1) < 120
    types = Counter(r.row["event_type"] for r in valid)
    assert {"loyalty_signup", "loyalty_redeem", "review", "login", "purchase"} <= set(types)
    assert types["page_view"] == max(types.values())
    assert {r.row["device_type"] for r in valid} == {"desktop", "mobile", "tablet"}
    assert len({r.row["browser"] for r in valid}) >= 4

    sessions: dict[str, list[Valid]] = defaultdict(list)
    seen: set[str] = set()
    for r in valid:  # a duplicate delivery is a copy of an earlier event: counted once
        if r.row["event_id"] not in seen:
            seen.add(r.row["event_id"])
            sessions[r.session_id].append(r)
    lengths = [len(v) for v in sessions.values()]
    assert sum(lengths) / len(lengths) > 4 and lengths.count(1) > 10  # sessions and bounces
    logged_in_mid_session = 0
    for events in sessions.values():
        flags = [e.row["is_anonymous_user"] for e in events]
        if flags[0] and not flags[-1]:
            logged_in_mid_session += 1
            # Once logged in, the later events carry the user id.
            assert flags == sorted(flags, reverse=True)
    assert logged_in_mid_session > 20

    # Timestamps: every encoding the contract allows, moving forward from the start.
    kinds = Counter(
        type(item["timestamp"]).__name__
        + (
            ":iso"
            if isinstance(item["timestamp"], str) and "T" in item["timestamp"]
            else ":num"
            if isinstance(item["timestamp"], str)
            else ""
        )
        for item in items
        if isinstance(item, dict) and "timestamp" in item
    )
    assert {"int", "float", "str:iso", "str:num"} <= set(kinds)
    iso = [i["timestamp"] for i in items if isinstance(i, dict) and "T" in str(i.get("timestamp"))]
    assert any(t.endswith("Z") for t in iso) and any(t.endswith("+00:00") for t in iso)
    assert any(t[-6] in "+-" and not t.endswith("+00:00") for t in iso)
    assert any(len(t) == 23 for t in iso)  # no offset: UTC
    start_ms = int(DEFAULT_START.timestamp() * 1000)
    stamps = [r.row["event_timestamp"] for r in valid]
    assert min(stamps) >= start_ms - 1000  # whole-second encodings truncate
    assert max(stamps) > start_ms + 3600_000
    for events in sessions.values():
        seen: set[str] = set()
        times = []
        for e in events:  # duplicates repeat an earlier event later: keep first copies
            if e.row["event_id"] not in seen:
                seen.add(e.row["event_id"])
                times.append(e.row["event_timestamp"])
        assert all(b >= a - 1000 for a, b in itertools.pairwise(times))


def test_rates_are_configurable() -> None:
    clean = TrafficGenerator(5, malformed_rate=0, extra_field_rate=0, duplicate_rate=0)
    results = [validate(i, now=NOW) for i in clean.events(2000)]
    assert all(isinstance(r, Valid) and not r.has_extra for r in results)
    assert len({r.row["event_id"] for r in results}) == 2000
    dirty = TrafficGenerator(5, malformed_rate=0.5)
    bad = sum(isinstance(validate(i, now=NOW), Invalid) for i in dirty.events(2000))
    assert 800 < bad < 1200
    start = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
    first = validate(TrafficGenerator(5, start=start).events(1)[0], now=NOW)
    assert isinstance(first, Valid)
    assert first.row["event_timestamp"] // 1000 == int(start.timestamp())
    with pytest.raises(ValueError, match="malformed_rate"):
        TrafficGenerator(malformed_rate=1.5)


def test_crm_files_cover_the_simulated_users(tmp_path: Path) -> None:
    gen = TrafficGenerator(9, users=200)
    gen.write_crm(tmp_path)
    with (tmp_path / "customers.csv").open() as handle:
        customers = list(csv.DictReader(handle))
    with (tmp_path / "ratings.csv").open() as handle:
        ratings = list(csv.DictReader(handle))
    assert list(customers[0]) == [
        "user_id",
        "customer_id",
        "loyalty_tier",
        "is_loyalty_member",
        "signup_date",
    ]
    ids = [c["user_id"] for c in customers]
    assert len(ids) == len(set(ids)) and 180 < len(ids) <= 200  # a few users are not in CRM
    tiers = Counter(c["loyalty_tier"].strip().lower() or "none" for c in customers)
    assert set(tiers) == {"none", "bronze", "silver", "gold"}
    for c in customers:
        assert c["is_loyalty_member"].lower() in ("true", "false")
        datetime.strptime(c["signup_date"], "%Y-%m-%d")
    assert ratings and {r["user_id"] for r in ratings} <= set(ids)
    for r in ratings:
        int(r["rating"])
        datetime.fromisoformat(r["rated_at"].replace("Z", "+00:00"))
    # Event users are CRM users (or new sign-ups the CRM does not know yet).
    users = {
        r.row["user_id"]
        for r in (validate(i, now=NOW) for i in gen.events(3000))
        if isinstance(r, Valid) and not r.row["is_anonymous_user"]
    }
    known = users & set(ids)
    assert len(known) > 0.8 * len(users)
    assert all(
        u.startswith("9") for u in users - set(ids) if u not in {g.user_id for g in gen.users}
    )
    assert gen.crm_rows() == TrafficGenerator(9, users=200).crm_rows()


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_server_serves_pages_and_faults_never_consume_events() -> None:
    gen_reference = TrafficGenerator(4).events(30)
    with SimulatorServer(TrafficGenerator(4), max_events=30, retry_after=2) as server:
        status, body, _ = _get(server.url + "?limit=10")
        assert status == 200 and json.loads(body) == gen_reference[:10]
        server.inject("503", "429", "garbage", "not_a_list", "truncated", "empty", "binary")
        status, _, headers = _get(server.url + "?limit=10")
        assert status == 503 and headers["Retry-After"] == "2"
        status, _, headers = _get(server.url + "?limit=10")
        assert status == 429 and headers["Retry-After"] == "2"
        for _ in range(5):
            status, body, _ = _get(server.url + "?limit=10")
            assert status == 200
            with pytest.raises(ValueError):
                parsed = json.loads(body)
                if not isinstance(parsed, list):
                    raise ValueError("not a list")
        host, port = "127.0.0.1", server.port
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", "/events?limit=5&fault=reset")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
        conn.close()
        status, body, _ = _get(server.url + "?limit=25")
        assert json.loads(body) == gen_reference[10:30]  # capped by max_events
        assert json.loads(_get(server.url + "?limit=25")[1]) == []
        assert server.served == 30
        assert _get(server.url + "?limit=0")[0] == 400
        assert _get(server.url + "?limit=abc")[0] == 400
        assert _get(server.url + "?fault=nope")[0] == 400
        assert _get(f"http://{host}:{port}/nope")[0] == 404
        assert json.loads(_get(f"http://{host}:{port}/health")[1])["served"] == 30


def test_server_rate_limits() -> None:
    with SimulatorServer(TrafficGenerator(4), rate=50) as server:
        first = json.loads(_get(server.url + "?limit=1000")[1])
        assert 40 <= len(first) <= 60  # one second's worth to start with


def test_cli_writes_crm_and_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weblogs.cli",
            "simulate-api",
            "--port",
            "0",
            "--seed",
            "2",
            "--start",
            (NOW - timedelta(days=1)).isoformat(),
            "--crm-dir",
            str(tmp_path / "crm"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "customers.csv" in proc.stdout.readline()
        line = proc.stdout.readline()
        url = line.split("serving ")[1].split("?")[0]
        items = json.loads(_get(url + "?limit=5")[1])
        assert items == TrafficGenerator(2, start=NOW - timedelta(days=1)).events(5)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert (tmp_path / "crm" / "ratings.csv").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "weblogs.cli", "simulate-api", "--start", "soon"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "not an ISO-8601" in bad.stderr


def test_visitors_devices_bots_values_and_secrets() -> None:
    """What docs/contract.md sections 5-7 need: devices (`client_id`) that return on
    other days, logged out visits of registered users' devices, a device shared by two
    users, purchases with a value, a little bot traffic and a few URLs with secrets."""
    start = datetime(2025, 12, 30, 21, 0, tzinfo=UTC)  # the events cross midnight
    gen = TrafficGenerator(5, start=start, malformed_rate=0, duplicate_rate=0)
    events = [e for e in gen.events(25_000) if isinstance(e, dict)]
    days: dict[str, set[int]] = defaultdict(set)
    users_of: dict[str, set[str]] = defaultdict(set)
    anonymous_clients = set()
    for e in events:
        client = e.get("client_id")
        if client is None:
            continue
        stamp = validate(e, now=NOW)
        assert isinstance(stamp, Valid), stamp
        days[client].add(stamp.event_timestamp_ms // 86_400_000)
        if stamp.row["is_anonymous_user"]:
            anonymous_clients.add(client)
        else:
            users_of[client].add(stamp.row["user_id"])
    assert 0.8 < sum("client_id" in e for e in events) / len(events) < 0.97
    assert sum(len(d) > 1 for d in days.values()) > 30  # devices come back on other days
    assert len(anonymous_clients & set(users_of)) > 10  # logged out on a user's device
    assert any(len(users) == 2 for users in users_of.values())  # the shared device
    values = [e["value"] for e in events if "value" in e]
    assert values and all(e["event_type"].lower() == "purchase" for e in events if "value" in e)
    assert all(0 < v <= 5000 and round(v, 2) == v for v in values)
    bots = {e["browser"] for e in events if e["browser"] in ("Googlebot", "HeadlessChrome")}
    assert bots == {"Googlebot", "HeadlessChrome"}
    urls = [e["page_url"] for e in events]
    assert any("?email=" in u for u in urls) and any("#access_token=" in u for u in urls)
    assert sum("?email=" in u or "#access_token=" in u for u in urls) < len(urls) / 100
