"""Compaction under overlap and kill: no row lost, none doubled, no temporary left.

The attacks of issue 26: two runs overlapping on a split hour with no grace, and a
run killed (SIGKILL, in a forked child) between the parts of a split hour.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dbt_helpers import WEBLOGS
from lakedata import FOLDER, NOW, event_ids, hidden_files, hour_bytes, hour_lake

from weblogs.adapters.compaction import compact
from weblogs.adapters.lake import LocalLake
from weblogs.core.layout import COMPACTED_PREFIX

LATER = time.time() + 10 * 86400  # a wall clock at which every lease has expired


class HookedLake(LocalLake):
    """A folder lake that calls `hook` once, when a staged write to a key ending in
    `when` is about to be published (`after`: just after it was)."""

    def __init__(
        self, root: Path, when: str, hook: Callable[[], None], *, after: bool = False
    ) -> None:
        super().__init__(root)
        self.when, self.hook, self.after, self.fired = when, hook, after, False

    def _fire(self, key: str) -> None:
        if key.endswith(self.when) and not self.fired:
            self.fired = True
            self.hook()

    @contextlib.contextmanager
    def staged(self, key: str) -> Iterator[Path]:
        with super().staged(key) as path:
            yield path
            if not self.after:
                self._fire(key)
        if self.after:
            self._fire(key)


def split_hour(root: Path) -> tuple[int, int]:
    """A lake with one hour big enough for three parts: (rows, min part bytes)."""
    rows = hour_lake(LocalLake(root), objects=9)
    return rows, hour_bytes(LocalLake(root)) // 4


def test_an_overlapping_run_skips_the_leased_hour(tmp_path: Path) -> None:
    rows, part = split_hour(tmp_path)
    second: dict[str, Any] = {}

    def run_second() -> None:
        second["stats"] = compact(
            LocalLake(tmp_path), now=NOW, grace_seconds=0, min_part_bytes=part
        )

    first = HookedLake(tmp_path, "-001.parquet", run_second)
    stats = compact(first, now=NOW, grace_seconds=0, min_part_bytes=part)
    assert first.fired
    assert second["stats"].hours_leased == 1 and second["stats"].objects_deleted == 0
    assert stats.hours_compacted == 1 and not stats.problems
    ids = event_ids(LocalLake(tmp_path))
    assert len(ids) == rows and set(ids.values()) == {1}
    names = [k.rsplit("/", 1)[1] for k in LocalLake(tmp_path).list(FOLDER)]
    assert len(names) == 3 and all(n.startswith(COMPACTED_PREFIX) for n in names)


def test_part_names_are_unique_per_run(tmp_path: Path) -> None:
    split_hour(tmp_path / "a")
    split_hour(tmp_path / "b")
    one = compact(LocalLake(tmp_path / "a"), now=NOW, grace_seconds=0, min_part_bytes=10**4)
    two = compact(LocalLake(tmp_path / "b"), now=NOW, grace_seconds=0, min_part_bytes=10**4)
    names = {k.rsplit("/", 1)[1] for k in one.written} & {k.rsplit("/", 1)[1] for k in two.written}
    assert one.written and names == set()


def killed_compaction(root: Path, part: int, when: str, *, after: bool = False) -> None:
    """`weblogs compact`'s code in a forked child, SIGKILLed as `when` is published."""
    pid = os.fork()
    if pid == 0:  # the child: no cleanup of any kind runs after the kill
        lake = HookedLake(root, when, lambda: os.kill(os.getpid(), signal.SIGKILL), after=after)
        compact(lake, now=NOW, grace_seconds=0, min_part_bytes=part)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_a_run_killed_between_parts_is_undone_then_redone_exactly_once(tmp_path: Path) -> None:
    rows, part = split_hour(tmp_path)
    killed_compaction(tmp_path, part, "-001.parquet")  # part 000 published, 001 staged
    assert any(".tmp-" in name for name in hidden_files(tmp_path)), "no temporary left?"
    assert sum(event_ids(LocalLake(tmp_path)).values()) > rows  # part 000 doubles rows now

    held = compact(LocalLake(tmp_path), now=NOW, grace_seconds=0, min_part_bytes=part)
    assert held.hours_leased == 1  # the dead run's lease is still in force
    legacy = tmp_path / FOLDER / ".compact-4242-compacted-0123456789abcdef01234567.parquet.part"
    legacy.write_bytes(b"what a killed run of an older version left")

    stats = compact(
        LocalLake(tmp_path), now=NOW, grace_seconds=0, min_part_bytes=part, wall=lambda: LATER
    )
    assert stats.hours_undone == 1 and stats.hours_compacted == 1, stats
    assert stats.temporaries_removed >= 2
    ids = event_ids(LocalLake(tmp_path))
    assert len(ids) == rows and set(ids.values()) == {1}
    assert hidden_files(tmp_path) == []
    again = compact(
        LocalLake(tmp_path), now=NOW, grace_seconds=0, min_part_bytes=part, wall=lambda: LATER
    )
    assert again.objects_written == again.objects_deleted == 0


def test_a_run_killed_after_its_last_part_is_finished_not_redone(tmp_path: Path) -> None:
    rows, part = split_hour(tmp_path)
    killed_compaction(tmp_path, part, "-002.parquet", after=True)  # all parts out, no input gone
    stats = compact(
        LocalLake(tmp_path), now=NOW, grace_seconds=0, min_part_bytes=part, wall=lambda: LATER
    )
    assert stats.hours_finished == 1 and stats.objects_written == 0, stats
    ids = event_ids(LocalLake(tmp_path))
    assert len(ids) == rows and set(ids.values()) == {1}
    assert len(list(LocalLake(tmp_path).list(FOLDER))) == 3


def test_a_run_that_outlived_its_lease_backs_off_and_takes_its_parts_back(
    tmp_path: Path,
) -> None:
    """Run A's lease expires while it writes; run B takes the hour over and compacts it.
    A deletes nothing of B's, takes its own part back and says so."""
    rows, part = split_hour(tmp_path)
    clock = [time.time()]
    second: dict[str, Any] = {}

    def take_over() -> None:
        clock[0] += 10 * 86400  # A's lease is long expired now
        second["stats"] = compact(
            LocalLake(tmp_path), now=NOW, grace_seconds=0, min_part_bytes=part,
            wall=lambda: clock[0],
        )  # fmt: skip

    first = HookedLake(tmp_path, "-000.parquet", take_over, after=True)
    stats = compact(first, now=NOW, grace_seconds=0, min_part_bytes=part, wall=lambda: clock[0])
    assert second["stats"].hours_compacted == 1, second["stats"]
    assert stats.hours_compacted == 0 and any("lease" in p for p in stats.problems), stats
    ids = event_ids(LocalLake(tmp_path))
    assert len(ids) == rows and set(ids.values()) == {1}


def test_a_missing_bucket_is_one_line(moto_server: Any) -> None:
    moto_server.reset()
    done = subprocess.run(
        [WEBLOGS, "compact", "--lake", "s3://no-such-bucket"],
        capture_output=True, text=True, check=False, env={**os.environ, **moto_server.env},
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "s3://no-such-bucket" in line and "NoSuchBucket" in line, line
