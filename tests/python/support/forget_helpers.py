"""A lake holding one user to forget in every place, and the searches that check it.

Every record that must go carries the marker `forget-me` in its page URL (or is a
CRM row of the user), so the oracle does not share the rules under test: after an
erasure no object version may hold the user's id, client id, session ids or the
marker, and every other record must be exactly as before.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from dbt_helpers import WEBLOGS, event, write_jsonl

from weblogs.adapters.lake import Lake, S3Lake
from weblogs.cli.transform import transform_input
from weblogs.core import layout
from weblogs.core.contract import failed_record

USER = "u-forget-7"
CLIENT = "c-forget-7"
SESSIONS = ("s-forget-a", "s-forget-b", "s-forget-c")
MARKER = "forget-me"
NEEDLES = (USER, CLIENT, *SESSIONS, MARKER)
PROCESSED = datetime(2026, 10, 4, 1, 0, tzinfo=UTC)


def hour_key(lake: Lake, hour: str) -> str:
    """The one events object of 2026-10-03 at `hour` (the batch writes one per hour)."""
    (key,) = lake.list(f"{layout.EVENTS}/year=2026/month=10/day=03/hour={hour}/")
    return key


def lake_events() -> list[dict[str, Any]]:
    """Raw API events: the user's (marked) and other people's, on 2026-10-02 and 03."""
    mine = f"/{MARKER}/p"
    return [
        event(SESSIONS[0], "page_view", "2026-10-02 09:00:00", mine, user_id=USER),
        # Anonymous, in the user's session, in an object rewritten after every one that
        # names the user: only the journal still knows the session then.
        event(SESSIONS[0], "click", "2026-10-03 20:00:00", mine),
        event(SESSIONS[0], "page_view", "2026-10-03 08:00:00", mine, user_id=f"  {USER} "),
        event("s-other-1", "page_view", "2026-10-02 09:00:00", "/a", user_id="u-other-1"),
        event("s-other-1", "click", "2026-10-02 09:02:00", "/b", user_id="u-other-1"),
        event(
            "s-other-2", "page_view", "2026-10-03 10:00:00", "/c", user_id="u-forget-6"
        ),  # a near miss
        event("s-other-3", "page_view", "2026-10-03 11:00:00", "/d"),
        event(SESSIONS[0], "not_a_type", "2026-10-02 09:03:00", mine, user_id=USER),  # fails
        event("s-other-1", "not_a_type", "2026-10-02 09:03:00", "/e", user_id="u-other-1"),
        # The user's client (hour 12) links an anonymous session in a later object (hour 13).
        event(SESSIONS[1], "page_view", "2026-10-03 12:00:00", f"/{MARKER}/c", user_id=USER,
              client_id=CLIENT),
        event("s-other-4", "page_view", "2026-10-03 12:00:00", "/f", user_id="u-other-4",
              client_id="c-other-4"),
        event(SESSIONS[2], "page_view", "2026-10-03 13:00:00", f"/{MARKER}/c2", client_id=CLIENT),
        event("s-other-6", "page_view", "2026-10-03 13:00:00", "/g", client_id="c-other-6"),
    ]  # fmt: skip


def _lines(items: list[Any]) -> bytes:
    return b"".join((i if isinstance(i, bytes) else json.dumps(i).encode()) + b"\n" for i in items)


def archive_objects() -> dict[str, bytes]:
    """raw/, extra_columns/ and the failed stores, as the consumer writes them."""
    day = datetime(2026, 10, 2, tzinfo=UTC)
    mine = {"session_id": " s-forget-a ", "user_id": USER, "page_url": f"/{MARKER}/r"}
    by_client = {"session_id": "s-elsewhere", "client_id": CLIENT, "page_url": f"/{MARKER}/k"}
    other = {"session_id": "s-other-1", "user_id": "u-other-1", "page_url": "/r"}
    numeric = {"session_id": "s-other-5", "user_id": 7, "page_url": "/n"}
    broken = f'{{"session_id": "s-forget-b", "page_url": "/{MARKER}/x", "user_id'.encode()
    binary = b'\xff{"user_id": "' + USER.encode() + b'", "page_url": "/' + MARKER.encode() + b'"}'
    sample = json.dumps([other, numeric])
    return {
        layout.dated_key(layout.RAW, day, "b1"): _lines([mine, other, by_client, numeric]),
        layout.dated_key(layout.RAW, day, "b2"): _lines([other, numeric]),
        layout.dated_key(layout.EXTRA_COLUMNS, day, "b1"): _lines([{**mine, "x": 1}, other]),
        layout.dated_key(layout.FAILED_RECORDS, day, "f1"): _lines(
            [
                failed_record(broken, "invalid_json", "api", day),
                failed_record(binary, "invalid_json", "api", day),
                failed_record(sample, "record_too_large", "api_response", day),
                failed_record(json.dumps(other).encode(), "missing_field:event_type", "api", day),
            ]
        ),
        layout.dated_key(layout.KINESIS_FAILURES, day, "k1"): _lines(
            [failed_record(json.dumps(mine).encode(), "ProvisionedThroughput", "kinesis", day)]
        ),
    }


def crm_files(root: Path, version: int) -> dict[str, Path]:
    customers = root / f"customers-{version}.csv"
    customers.write_text(
        "user_id,customer_id,loyalty_tier,is_loyalty_member,signup_date\n"
        f"{USER},c-1,gold,true,2024-01-0{version}\n"
        "u-other-1,c-2,silver,false,2024-02-01\n",
        encoding="utf-8",
    )
    ratings = root / f"ratings-{version}.csv"
    ratings.write_text(
        f"rated_at,user_id,rating\n2026-10-02T10:00:00Z,{USER},5\n2026-10-02T11:00:00Z,u-other-1,4\n",
        encoding="utf-8",
    )
    return {"customers": customers, "ratings": ratings}


def build_lake(lake: Lake, uri: str, root: Path, env: dict[str, str] | None = None) -> None:
    """Every place of the lake, written the production way where there is one."""
    root.mkdir(parents=True, exist_ok=True)
    transform_input(write_jsonl(root / "events.jsonl", lake_events()), uri, now=PROCESSED)
    for key, data in archive_objects().items():
        lake.put(key, data)
    for version in (1, 2):
        files = crm_files(root, version)
        done = subprocess.run(
            [WEBLOGS, "crm", "load", "--customers", str(files["customers"]),
             "--ratings", str(files["ratings"]), "--lake", uri],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


def _versions(lake: Lake) -> list[tuple[str, str | None]]:
    if isinstance(lake, S3Lake):
        return [(v.key, v.version_id) for v in lake.list_versions("") if not v.delete_marker]
    return [(key, None) for key in lake.list("")]


def _read(lake: Lake, key: str, version: str | None) -> bytes:
    if isinstance(lake, S3Lake) and version is not None:
        response = lake.client.get_object(Bucket=lake.bucket, Key=key, VersionId=version)
        return bytes(response["Body"].read())
    return lake.get(key)


def object_text(key: str, data: bytes) -> str:
    """Everything an object says, as text: Parquet values, and decoded failed payloads."""
    if key.endswith(".parquet"):
        return json.dumps(pq.read_table(io.BytesIO(data)).to_pylist(), default=str)
    text = data.decode("utf-8", "replace")
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("payload_encoding") == "base64":
            text += base64.b64decode(record["payload"]).decode("utf-8", "replace")
    return text


def search(lake: Lake) -> list[str]:
    """Every object version (S3: noncurrent ones too) that mentions the user."""
    hits = []
    for key, version in _versions(lake):
        text = object_text(key, _read(lake, key, version))
        hits += [f"{key}@{version}: {n}" for n in NEEDLES if n in text]
    return hits


def others(lake: Lake) -> dict[str, Counter[str]]:
    """Per place, the current records that are not the user's (multisets)."""
    out: dict[str, Counter[str]] = {}
    for key in lake.list(""):
        if key.startswith((f"{layout.ERASURE}/", f"{layout.ARRIVALS}/")):
            continue
        data = lake.get(key)
        place = key.split("/")[0] + ("/" + key.rsplit("/", 1)[-1] if key.endswith(".csv") else "")
        if key.endswith(".parquet"):
            rows = pq.read_table(io.BytesIO(data)).to_pylist()
            records = [(json.dumps(r, default=str),) * 2 for r in rows]
        else:
            records = [
                (line.decode("utf-8", "replace"), object_text("x.jsonl", line))
                for line in data.splitlines()
            ]
        kept = [r for r, text in records if not any(n in text for n in NEEDLES)]
        out.setdefault(place, Counter()).update(kept)
    return {place: records for place, records in out.items() if records}


#: Runs argv[1:] as a child of this small process; prints its max RSS (KiB) and exit code.
MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def forget_peak_kib(lake: Path, user: str) -> int:
    """`weblogs forget` run to the end: its peak memory (max RSS, KiB), measured by a
    small parent (a child's max RSS starts from its parent's at fork: not pytest's)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, WEBLOGS, "forget", "--user-id", user, "--lake", str(lake)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    peak, code = done.stdout.split()
    assert code == "0", done.stderr
    return int(peak)
