"""A lease on one hour of the lake: a conditional-create marker with an expiry.

Generations make taking over safe without a conditional delete: the holder is the
newest generation's run while it has not expired; whoever finds it expired creates
the next generation (`Lake.create`), and of two runs racing for it only one wins.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from weblogs.adapters.lake import Lake
from weblogs.core.compaction import lease_holder, lease_record
from weblogs.core.layout import (
    HivePartition,
    compaction_lease_key,
    compaction_lease_prefix,
    lease_generation,
)


class HourLease:
    """One run's claim on one hour; `acquire` first, `release` when done."""

    def __init__(
        self,
        lake: Lake,
        partition: HivePartition,
        run: str,
        seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lake, self.partition, self.run = lake, partition, run
        self.seconds, self.clock = seconds, clock
        self.key: str | None = None

    def _generations(self) -> list[tuple[int, str]]:
        found = []
        for key in self.lake.list(compaction_lease_prefix(self.partition)):
            generation = lease_generation(key)
            if generation is not None:
                found.append((generation, key))
        return sorted(found)

    def _holder(self, key: str) -> str | None:
        try:
            return lease_holder(self.lake.get(key), self.clock())
        except FileNotFoundError:
            return None
        except Exception as exc:  # S3: NoSuchKey after a concurrent release
            if "NoSuchKey" in str(exc) or "404" in str(exc):
                return None
            raise

    def acquire(self) -> bool:
        """True when this run now holds the hour; False when another run's lease is in force."""
        generations = self._generations()
        next_generation = 0
        if generations:
            newest, key = generations[-1]
            holder = self._holder(key)
            if holder is not None and holder != self.run:
                return False
            next_generation = newest + 1
        key = compaction_lease_key(self.partition, next_generation)
        if not self.lake.create(key, lease_record(self.run, self.clock() + self.seconds)):
            return False  # another run took it first
        self.key = key
        for _generation, old in generations:  # expired or released: no longer anyone's
            with contextlib.suppress(Exception):
                self.lake.delete(old)
        return True

    def held(self) -> bool:
        """Still ours: our generation is the newest and has not expired."""
        generations = self._generations()
        return bool(
            self.key
            and generations
            and generations[-1][1] == self.key
            and self._holder(self.key) == self.run
        )

    def renew(self) -> bool:
        """Push the expiry out (only while still held); False when the hour was taken over."""
        if not self.held():
            return False
        assert self.key is not None
        self.lake.put(self.key, lease_record(self.run, self.clock() + self.seconds))
        return True

    def release(self) -> None:
        """Best effort: an unreleased lease only delays the next run until it expires."""
        if self.key is not None:
            with contextlib.suppress(Exception):
                self.lake.delete(self.key)
            self.key = None
