"""The erasure of one user, place by place (docs/operations.md, Erasure requests).

`forget` runs the steps of `weblogs.adapters.erasure` in a crash-safe order: find C
and S, write the journal, rewrite each place (events/ last), delete the noncurrent
versions that hold the user, record the touched event dates as arrivals, keep the
erasure record, remove the journal. A rerun after a kill resumes from the journal.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from pyarrow import ArrowException

from weblogs.adapters.erasure import (
    PLACES,
    RECORDS,
    Journal,
    clean_temporaries,
    drop_old_versions,
    find_targets,
    judge,
    load_journal,
    noncurrent_with_user,
    now_iso,
    remove_journal,
    rewrite,
    save_journal,
    stamp,
    unreadable,
)
from weblogs.adapters.lake import Lake
from weblogs.core import layout
from weblogs.core.erasure import Targets, sha256_hex


@dataclass
class Outcome:
    """What one run removed (or, with --dry-run, would remove), per place."""

    user_hash: str
    dry_run: bool
    records: Counter[str] = field(default_factory=Counter)
    objects: Counter[str] = field(default_factory=Counter)
    objects_held: int = 0
    versions: int = 0
    temporaries: int = 0
    dates: list[str] = field(default_factory=list)
    record_key: str | None = None
    arrivals_key: str | None = None
    resumed: bool = False

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        places = ", ".join(
            f"{name} {self.records[name]} ({self.objects[name]} objects)" for name, _, _ in PLACES
        )
        text = (
            f"forget: user sha256 {self.user_hash}{' (resumed)' if self.resumed else ''}: "
            f"{verb} {sum(self.records.values())} records: {places}; "
            f"{sum(self.objects.values())} of {self.objects_held} objects rewritten; "
            f"{self.versions} old versions {'to delete' if self.dry_run else 'deleted'}; "
            f"event dates to rebuild: {', '.join(self.dates) or 'none'}"
        )
        if self.record_key:
            text += f"\nforget: erasure record {self.record_key}"
        return text


def forget(lake: Lake, user_id: str, *, now: datetime, dry_run: bool = False) -> Outcome:
    """Remove every stored record of `user_id` (already checked) from `lake`."""
    user_hash = sha256_hex(user_id)
    if not dry_run:
        lake.check_writable()
    journal = load_journal(lake, user_hash)
    outcome = Outcome(user_hash, dry_run, resumed=journal is not None)
    if journal is None:
        journal = Journal(Targets(user_hash), now_iso(now))
    journal.targets.user_id = user_id  # in memory only: the journal keeps hashes
    find_targets(lake, journal.targets)
    if not dry_run:
        save_journal(lake, journal)  # before the first change: a rerun knows C and S
        outcome.temporaries = clean_temporaries(lake)
    for name, prefix, kind in PLACES:
        _forget_place(lake, journal, outcome, name, prefix, kind)
    if dry_run:
        outcome.dates = sorted(journal.dates)
        return outcome
    for name, _, _ in PLACES:
        outcome.records[name] = sum(journal.removed.get(name, {}).values())
        outcome.objects[name] = len(journal.removed.get(name, {}))
    outcome.versions = journal.versions_deleted
    outcome.dates = sorted(journal.dates)
    outcome.arrivals_key = _record_arrivals(lake, journal, now)
    outcome.record_key = _keep_record(lake, outcome, now)
    remove_journal(lake, user_hash)
    return outcome


def _forget_place(
    lake: Lake, journal: Journal, outcome: Outcome, name: str, prefix: str, kind: str
) -> None:
    suffix = {"parquet": ".parquet", "csv": ".csv"}.get(kind, "")
    targets = journal.targets
    for obj in list(lake.list_objects(prefix)):
        if suffix and not obj.key.endswith(suffix):
            continue
        outcome.objects_held += 1
        try:
            with lake.open_input(obj.key) as source:
                judged = judge(source, kind, targets)
        except (ArrowException, OSError, ValueError) as exc:
            raise unreadable(obj.key, exc) from exc
        if not judged.removed:
            continue
        if outcome.dry_run:
            outcome.records[name] += judged.removed
            outcome.objects[name] += 1
            for day, _ in judged.hours:
                journal.dates.setdefault(day, set())
            continue
        journal.removed.setdefault(name, {})[obj.key] = judged.removed
        for day, hour in judged.hours:
            journal.dates.setdefault(day, set()).add(hour)
        save_journal(lake, journal)  # what goes, before it goes
        deleted = rewrite(lake, obj.key, kind, targets)
        journal.versions_deleted += drop_old_versions(lake, obj.key, deleted=deleted)
    for version in noncurrent_with_user(lake, prefix, kind, targets):
        if outcome.dry_run:
            outcome.versions += 1
            continue
        lake.delete_version(version.key, version.version_id)
        journal.versions_deleted += 1
    if not outcome.dry_run:
        save_journal(lake, journal)


def _record_arrivals(lake: Lake, journal: Journal, now: datetime) -> str | None:
    """The touched event hours as an arrivals manifest without `first_ingested_at`: the
    next scheduled run rebuilds their session dates whole (docs/analytics.md, Late data)."""
    if not journal.dates:
        return None
    lines = [
        {
            "event_date": day,
            "event_hour": hour,
            "events": 0,
            "arrived_at": now_iso(now),
            "first_ingested_at": None,
        }
        for day, hours in sorted(journal.dates.items())
        for hour in sorted(hours or {"00"})
    ]
    key = layout.arrivals_key(now, f"erasure-{stamp(now)}")
    lake.put(key, b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    return key


def _keep_record(lake: Lake, outcome: Outcome, now: datetime) -> str:
    """The erasure record: the id's SHA-256, never the id; the time; the count per place."""
    record = {
        "user_id_sha256": outcome.user_hash,
        "erased_at": now_iso(now),
        "records_removed": {name: outcome.records[name] for name, _, _ in PLACES},
        "objects_rewritten": {name: outcome.objects[name] for name, _, _ in PLACES},
        "objects_held": outcome.objects_held,
        "old_versions_deleted": outcome.versions,
        "event_dates_to_rebuild": outcome.dates,
        "arrivals_manifest": outcome.arrivals_key,
    }
    key = f"{RECORDS}{stamp(now)}-{outcome.user_hash[:16]}.json"
    lake.put(key, json.dumps(record, indent=2, sort_keys=True).encode() + b"\n")
    return key
