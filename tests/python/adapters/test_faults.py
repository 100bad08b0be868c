"""The fault-injection suite: SIGKILL and a full disk at every write step of transform,
compaction and a CRM load, one at a time and two runs at once, on a lake folder and
on S3 through moto's server. After any fault and a rerun, the lake holds every row
exactly once and the CRM extracts are the new load (or, after a failed load that
was not killed, still the old one).

`make test` runs the quick version (every step for one fault at a time, a few pairs);
`WEBLOGS_FAULTS=long` (`make fuzz`) visits every step of both kinds and many pairs.
Each test prints how many fault points it covered.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faults import COUNT, ENOSPC, KILL, Fault, KillingProxy, Outcome, run_forked, run_two_forked
from lakedata import FOLDER, HOUR, NOW, event_lines, hour_bytes, hour_lake

from weblogs.adapters.compaction import compact
from weblogs.adapters.lake import Lake, LakeError, LocalLake, S3Lake
from weblogs.cli import main
from weblogs.core.compaction import group_hours, is_compact

#: Every step of a whole command, each in a forked child: seconds per test, not a unit test
#: (`make test` runs them, `make test-fast` does not).
pytestmark = pytest.mark.slow

LONG = os.environ.get("WEBLOGS_FAULTS") == "long"
PAIRS = 40 if LONG else 2
LATER = 10**10  # a wall clock (seconds) at which every compaction lease has expired
OLD_C = "user_id,customer_id,loyalty_tier,is_loyalty_member,signup_date\nu-old,C-0,gold,true,2020-01-01\n"
OLD_R = "user_id,rated_at,rating\nu-old,2026-10-02T10:00:00Z,3\n"
NEW_C = "user_id,customer_id,loyalty_tier,is_loyalty_member,signup_date\nu-new,C-9,silver,false,2024-01-01\n"
NEW_R = "user_id,rated_at,rating\nu-new,2026-10-03T10:00:00Z,4\nu-new,2026-10-04T10:00:00Z,5\n"
EVENTS = 400
BAD_LINES = [b"not json", b'{"event_type": "click"}', b"[1, 2]"]


@dataclass
class Home:
    """Where a scenario's lake lives: a folder, or a bucket behind the killing proxy."""

    root: Path
    s3: Any = None  # a boto3 client straight to moto (for setup and checks)
    proxy: KillingProxy | None = None
    env: dict[str, str] | None = None

    @property
    def uri(self) -> str:
        return "s3://lake" if self.s3 else str(self.root / "lake")

    def lake(self, *, through_proxy: bool = False) -> Lake:
        if not self.s3:
            return LocalLake(self.root / "lake")
        if through_proxy:
            import boto3

            assert self.proxy is not None
            client = boto3.client(
                "s3",
                region_name="us-east-1",
                endpoint_url=self.proxy.endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            return S3Lake(client, "lake")
        return S3Lake(self.s3, "lake")

    def child_env(self) -> None:
        """In the child: every boto3 client goes through the proxy; temporaries under root."""
        if self.env:
            os.environ.update(self.env)
            assert self.proxy is not None
            os.environ["AWS_ENDPOINT_URL"] = self.proxy.endpoint
        tempfile.tempdir = str(self.root / "tmp")

    @property
    def roots(self) -> list[Path]:
        return [self.root / "tmp"] if self.s3 else [self.root / "lake"]


@dataclass
class Scenario:
    name: str
    setup: Callable[[Home], None]
    work: Callable[[Home], int | None]
    rerun: Callable[[Home], None]
    check: Callable[[Home, list[Outcome]], None]


# ------------------------------------------------------------------------ transform


def transform_setup(home: Home) -> None:
    half = EVENTS // 2  # two hours: two event objects
    lines = event_lines(0, half) + event_lines(half, half, HOUR + timedelta(hours=1))
    (home.root / "in.jsonl").write_bytes(b"\n".join(lines + BAD_LINES) + b"\n")


def transform_work(home: Home) -> int:
    home.child_env()
    return main(["transform", "--input", str(home.root / "in.jsonl"), "--lake", home.uri])


def transform_rerun(home: Home) -> None:
    assert main(["transform", "--input", str(home.root / "in.jsonl"), "--lake", home.uri]) == 0


def transform_check(home: Home, outcomes: list[Outcome]) -> None:
    lake = home.lake()
    assert_once(lake, EVENTS)
    failed = [k for k in lake.list("failed_transformation_records/")]
    lines = [json.loads(x) for k in failed for x in lake.get(k).splitlines()]
    assert len(lines) == len(BAD_LINES), failed
    assert_no_traceback(outcomes)


# ----------------------------------------------------------------------- compaction


def compaction_setup(home: Home) -> None:
    lake = home.lake()
    hour_lake(lake, objects=6, rows=60)
    (home.root / "part").write_text(str(hour_bytes(lake) // 4))


def _compact(home: Home, lake: Lake, **kwargs: Any) -> Any:
    part = int((home.root / "part").read_text())
    return compact(lake, now=NOW, grace_seconds=0, min_part_bytes=part, **kwargs)


def compaction_work(home: Home) -> int:
    """As `weblogs compact` runs it (its floor of 128 MiB per part aside): a LakeError is
    one line and exit 2, anything else a traceback (exit 71 from the harness)."""
    home.child_env()
    try:
        stats = _compact(home, home.lake(through_proxy=True))
    except LakeError as exc:
        print(f"weblogs compact: error: {exc}", file=sys.stderr)
        return 2
    return 1 if stats.problems else 0


def compaction_rerun(home: Home) -> None:
    stats = _compact(home, home.lake(), wall=lambda: LATER)
    assert not stats.problems, stats.problems


def compaction_check(home: Home, outcomes: list[Outcome]) -> None:
    lake = home.lake()
    assert_once(lake, 360)
    (hour,) = group_hours(lake.list_objects(FOLDER))[0]
    assert is_compact(hour), [o.key for o in hour.objects]
    if not home.s3:
        hidden = [p for p in (home.root / "lake" / "events").rglob(".*") if p.is_file()]
        assert hidden == [], hidden
    again = _compact(home, lake, wall=lambda: LATER)
    assert again.objects_written == again.objects_deleted == 0
    assert_no_traceback(outcomes)


# ------------------------------------------------------------------------- crm load


def crm_setup(home: Home) -> None:
    (home.root / "c.csv").write_text(NEW_C)
    (home.root / "r.csv").write_text(NEW_R)
    old_files = {"customers": OLD_C, "ratings": OLD_R}
    for kind, text in old_files.items():
        home.lake().put(_crm_key(home, kind), text.encode())


def _crm_key(home: Home, kind: str) -> str:
    from weblogs.core.layout import crm_current_key

    return crm_current_key(kind, s3=bool(home.s3))


def _crm_args(home: Home) -> list[str]:
    return ["crm", "load", "--lake", home.uri, "--customers", str(home.root / "c.csv"),
            "--ratings", str(home.root / "r.csv")]  # fmt: skip


def crm_work(home: Home) -> int:
    home.child_env()
    return main(_crm_args(home))


def crm_extracts(home: Home) -> tuple[str, str]:
    lake = home.lake()
    return tuple(lake.get(_crm_key(home, k)).decode() for k in ("customers", "ratings"))  # type: ignore[return-value]


def crm_rerun(home: Home) -> None:
    assert main(_crm_args(home)) == 0


def crm_check(home: Home, outcomes: list[Outcome]) -> None:
    assert crm_extracts(home) == (NEW_C, NEW_R)
    assert_no_traceback(outcomes)


def crm_after_fault(home: Home, outcomes: list[Outcome]) -> None:
    """A load that failed without being killed left the old load or the new one."""
    if all(not o.killed and o.exit_code for o in outcomes):
        assert crm_extracts(home) in ((OLD_C, OLD_R), (NEW_C, NEW_R))


SCENARIOS = {
    "transform": Scenario("transform", transform_setup, transform_work, transform_rerun, transform_check),
    "compaction": Scenario("compaction", compaction_setup, compaction_work, compaction_rerun, compaction_check),
    "crm": Scenario("crm", crm_setup, crm_work, crm_rerun, crm_check),
}  # fmt: skip


# --------------------------------------------------------------------------- checks


def assert_once(lake: Lake, expected: int) -> None:
    """Every event id of the input in the lake exactly once."""
    ids: list[str] = []
    for key in lake.list("events/"):
        if key.endswith(".parquet"):
            table = pq.read_table(pa.BufferReader(lake.get(key)), columns=["event_id"])
            ids += table.column("event_id").to_pylist()
    assert len(ids) == len(set(ids)) == expected, (len(ids), len(set(ids)), expected)


def assert_no_traceback(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if not outcome.killed and outcome.exit_code:
            assert "Traceback" not in outcome.stderr, outcome.stderr
            assert outcome.exit_code in (1, 2), outcome


# ----------------------------------------------------------------------------- homes


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.aws)])
def home_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Home]]:
    proxy: KillingProxy | None = None
    if request.param == "s3":
        server = request.getfixturevalue("moto_server")
        proxy = KillingProxy(server.port)
    counter = iter(range(10**6))

    def make(name: str) -> Home:
        root = tmp_path / f"{name}-{next(counter)}"
        (root / "tmp").mkdir(parents=True)
        if proxy is None:
            return Home(root)
        server.reset()
        s3 = server.client("s3")
        s3.create_bucket(Bucket="lake")
        return Home(root, s3, proxy, server.env)

    yield make
    if proxy is not None:
        proxy.stop()


def one_run(scenario: Scenario, home: Home, fault: Fault, s3_kill: int = 0) -> Outcome:
    scenario.setup(home)
    on_start: Callable[[int], None] = lambda pid: None  # noqa: E731
    if home.proxy is not None:
        home.proxy.arm(s3_kill)
        on_start = home.proxy.set_victim
    return run_forked(lambda: scenario.work(home), fault, home.roots, on_start=on_start)


def settle(scenario: Scenario, home: Home, outcomes: list[Outcome]) -> None:
    if scenario.name == "crm":
        crm_after_fault(home, outcomes)
    scenario.rerun(home)
    scenario.check(home, outcomes)


def report(capsys: pytest.CaptureFixture[str], what: str, points: int) -> None:
    with capsys.disabled():
        print(f"\nfault points covered: {points} ({what})")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_write_step_killed_or_out_of_space(
    name: str, home_factory: Callable[[str], Home], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = SCENARIOS[name]
    clean = one_run(scenario, home_factory(name), Fault(COUNT))
    assert clean.exit_code == 0, clean.stderr
    steps = clean.steps
    probe = home_factory(name)
    requests = 0
    if probe.proxy is not None:
        one_run(scenario, probe, Fault(COUNT))
        requests = probe.proxy.writes
    points = 0
    for step, mode in fault_points(name, steps, s3=probe.s3 is not None):
        home = home_factory(name)
        outcome = one_run(scenario, home, Fault(mode, step))
        assert outcome.killed == (mode == KILL), (mode, step, outcome)
        settle(scenario, home, [outcome])
        points += 1
    for request in range(1, requests + 1):
        home = home_factory(name)
        outcome = one_run(scenario, home, Fault(COUNT), s3_kill=request)
        settle(scenario, home, [outcome])
        points += 1
    assert points > 0
    report(capsys, f"{name}, {steps} file steps, {requests} S3 write requests", points)


def fault_points(name: str, steps: int, *, s3: bool) -> list[tuple[int, str]]:
    """(step, fault) pairs to visit. Long: both faults at every step. Quick: on a folder,
    both at every step (compaction: a kill at every step, a full disk at every other);
    on S3 (where file steps are only the local staging), a full disk at every step."""
    if LONG:
        return [(step, mode) for step in range(1, steps + 1) for mode in (KILL, ENOSPC)]
    if s3:
        return [(step, ENOSPC) for step in range(1, steps + 1)]
    return [
        (step, mode)
        for step in range(1, steps + 1)
        for mode in (KILL, ENOSPC)
        if mode == KILL or name != "compaction" or step % 2
    ]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_two_runs_at_once_each_with_a_fault(
    name: str, home_factory: Callable[[str], Home], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = SCENARIOS[name]
    probe = home_factory(name)
    steps = one_run(scenario, probe, Fault(COUNT)).steps
    requests = probe.proxy.writes if probe.proxy is not None else 0
    rng = random.Random(f"{name}-{PAIRS}")
    for _ in range(PAIRS):
        home = home_factory(name)
        scenario.setup(home)
        faults = tuple(
            Fault(rng.choice((KILL, ENOSPC)), rng.randint(1, steps)) if steps else Fault(COUNT)
            for _ in range(2)
        )
        on_start: Callable[[int], None] = lambda pid: None  # noqa: E731
        if home.proxy is not None:  # the first run is also killed at a random S3 write
            home.proxy.arm(rng.randint(1, requests))
            on_start = home.proxy.set_victim
        work = (lambda h=home: scenario.work(h), lambda h=home: scenario.work(h))
        outcomes = run_two_forked(work, faults, home.roots, on_start=on_start)  # type: ignore[arg-type]
        settle(scenario, home, list(outcomes))
    report(capsys, f"{name}, {PAIRS} pairs of concurrent faulty runs", 2 * PAIRS)
