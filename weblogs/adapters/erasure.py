"""`weblogs forget`: one user's records out of every place of a lake (docs/contract.md,
section 7; docs/operations.md, Erasure requests).

Object by object, through the one `Lake` of `weblogs.adapters.lake`: an object that
holds a record of the user is rewritten without it (an atomic replace; deleted when
nothing is left), every other object is left untouched; streaming (lines, CSV records,
row groups: memory does not grow with an object). On S3 every noncurrent
version that holds the user, and every old version of what was rewritten, is
deleted. Crash-safe: before the first change a journal (`erasure/pending/`, hashes
only) records the user's client and session ids and, before each rewrite, what the
rewrite removes; a rerun reads it back, so a kill at any point and a rerun leave
nothing of the user, and never touch anyone else's records. The touched event dates
are recorded as arrivals (without `first_ingested_at`: whole-date rebuilds), so the
next scheduled model run rebuilds them.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from weblogs.adapters.lake import STALE_TEMPORARY_SECONDS, Lake, LakeError, S3Lake
from weblogs.core import layout
from weblogs.core.erasure import (
    ID_COLUMNS,
    Targets,
    csv_records,
    csv_verdicts,
    failed_line_matches,
    payload_matches,
    row_mask,
    text_pieces,
)

#: Where an erasure in progress keeps its journal, and where its record is kept.
PENDING = f"{layout.ERASURE}/pending/"
RECORDS = f"{layout.ERASURE}/records/"
#: Each place of the lake: (name, prefix, kind). events/ last: the other places are
#: judged while the user's events still say who they are.
PLACES: tuple[tuple[str, str, str], ...] = (
    (layout.RAW, f"{layout.RAW}/", "lines"),
    (layout.EXTRA_COLUMNS, f"{layout.EXTRA_COLUMNS}/", "lines"),
    *((name, f"{name}/", "failed") for name in layout.FAILED_STORES),
    (layout.CRM, f"{layout.CRM}/", "csv"),
    (layout.EVENTS, f"{layout.EVENTS}/", "parquet"),
)
#: An events rewrite: rows per batch, kept bytes per row group written, read buffer
#: (pyarrow decodes one row group of the object at a time: the memory bound).
BATCH_ROWS, ROW_GROUP_BYTES, READ_BUFFER_BYTES = 4096, 8 * 2**20, 2**20


@dataclass
class Journal:
    """What an erasure has decided and done so far (no identifier in clear)."""

    targets: Targets
    started_at: str
    removed: dict[str, dict[str, int]] = field(default_factory=dict)
    dates: dict[str, set[str]] = field(default_factory=dict)
    versions_deleted: int = 0
    objects_held: int = 0

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "user_id_sha256": self.targets.user_hash,
                "client_id_sha256": sorted(self.targets.client_hashes),
                "session_id_sha256": sorted(self.targets.session_hashes),
                "started_at": self.started_at,
                "removed": self.removed,
                "event_hours": {d: sorted(h) for d, h in sorted(self.dates.items())},
                "versions_deleted": self.versions_deleted,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Journal:
        raw = json.loads(data)
        targets = Targets(
            raw["user_id_sha256"], set(raw["client_id_sha256"]), set(raw["session_id_sha256"])
        )
        journal = cls(targets, raw["started_at"], raw["removed"])
        journal.dates = {d: set(h) for d, h in raw["event_hours"].items()}
        journal.versions_deleted = int(raw["versions_deleted"])
        return journal

    def counts(self) -> dict[str, int]:
        return {name: sum(self.removed.get(name, {}).values()) for name, _, _ in PLACES}


@dataclass(frozen=True)
class Judged:
    """One object (or version) judged: records of the user, and their event hours."""

    removed: int
    hours: frozenset[tuple[str, str]] = frozenset()


# ------------------------------------------------------------------ judging


def _hours(table: pa.Table) -> frozenset[tuple[str, str]]:
    if "event_timestamp" not in table.column_names or table.num_rows == 0:
        return frozenset()
    stamps = table.column("event_timestamp").to_pylist()
    return frozenset((f"{t:%Y-%m-%d}", f"{t:%H}") for t in stamps if t is not None)


def _id_tables(source: IO[bytes]) -> Iterator[pa.Table]:
    """Row group by row group: the id columns and the event time (nothing else is read)."""
    parquet = pq.ParquetFile(source)
    names = set(parquet.schema_arrow.names)
    columns = [c for c in (*ID_COLUMNS, "event_timestamp") if c in names]
    for index in range(parquet.num_row_groups):
        yield parquet.read_row_group(index, columns=columns)


def judge_parquet(source: IO[bytes], targets: Targets) -> Judged:
    removed, hours = 0, set()
    for table in _id_tables(source):
        hit = table.filter(row_mask(table, targets))
        removed += hit.num_rows
        hours |= _hours(hit)
    return Judged(removed, frozenset(hours))


def _line_judge(kind: str) -> Callable[[bytes, Targets], bool]:
    return failed_line_matches if kind == "failed" else payload_matches


def judge_lines(source: IO[bytes], kind: str, targets: Targets) -> Judged:
    judge = _line_judge(kind)
    return Judged(
        sum(1 for line in source if line.strip() and judge(line.rstrip(b"\r\n"), targets))
    )


#: The most text one read of a CRM extract takes (a longer line is read in pieces).
CSV_PIECE_CHARS = 2**20


def csv_verdicts_of(source: IO[bytes], targets: Targets) -> Iterator[tuple[str, bool]]:
    """A CRM extract record by record (bytes kept: undecodable ones as surrogates),
    each with whether it goes; never the whole object in memory."""
    text = io.TextIOWrapper(source, encoding="utf-8", errors="surrogateescape", newline="")
    pieces = text_pieces(lambda: text.readline(CSV_PIECE_CHARS))
    return csv_verdicts(csv_records(pieces), targets.user_hash)


def unreadable(key: str, exc: Exception) -> LakeError:
    """One line naming the object: the erasure cannot vouch for what it cannot read."""
    text = " ".join(str(exc).split())[:200]
    return LakeError(
        f"cannot read {key} ({type(exc).__name__}: {text}); repair or remove it, then run "
        "forget again (it resumes where it stopped)"
    )


def judge(lake_source: IO[bytes], kind: str, targets: Targets) -> Judged:
    if kind == "parquet":
        return judge_parquet(lake_source, targets)
    if kind == "csv":
        return Judged(sum(goes for _, goes in csv_verdicts_of(lake_source, targets)))
    return judge_lines(lake_source, kind, targets)


# ------------------------------------------------------------------ rewriting


def _kept_batches(parquet: pq.ParquetFile, targets: Targets) -> Iterator[pa.Table | None]:
    """The rows that stay, `BATCH_ROWS` at a time; None where a row group of the object
    ends (the rewrite keeps its row groups, splitting only those over the budget)."""
    for index in range(parquet.num_row_groups):
        for batch in parquet.iter_batches(BATCH_ROWS, row_groups=[index], use_threads=False):
            table = pa.Table.from_batches([batch])
            yield table.filter(pc.invert(row_mask(table, targets)))
        yield None


def _rewrite_parquet(lake: Lake, key: str, targets: Targets, work: Path) -> int:
    """The object without the user's rows, batch by batch: the same schema (metadata
    included), Snappy, the same row groups up to `ROW_GROUP_BYTES` of kept rows each
    (a bigger one is split), so memory does not grow with the object; rows kept."""
    kept_rows = 0
    with lake.open_input(key) as source:
        parquet = pq.ParquetFile(source, buffer_size=READ_BUFFER_BYTES)
        with pq.ParquetWriter(work, parquet.schema_arrow, compression="snappy") as writer:
            pending: list[pa.Table] = []
            for kept in _kept_batches(parquet, targets):
                if kept is not None:
                    pending.append(kept)
                    kept_rows += kept.num_rows
                if pending and (kept is None or sum(t.nbytes for t in pending) > ROW_GROUP_BYTES):
                    writer.write_table(pa.concat_tables(pending))
                    pending = []
                    pa.default_memory_pool().release_unused()  # freed row groups back
    return kept_rows


def _rewrite_lines(lake: Lake, key: str, kind: str, targets: Targets, work: Path) -> int:
    judge_line = _line_judge(kind)
    kept = 0
    with lake.open_input(key) as source, work.open("wb") as out:
        for line in source:
            if line.strip() and judge_line(line.rstrip(b"\r\n"), targets):
                continue
            out.write(line)
            kept += bool(line.strip())
    return kept


def _rewrite_csv(lake: Lake, key: str, targets: Targets, work: Path) -> int:
    """The extract without the user's rows, record by record; kept even when only its
    header is left (the models read its columns)."""
    with lake.open_input(key) as source, work.open("wb") as out:
        for record, goes in csv_verdicts_of(source, targets):
            if not goes:
                out.write(record.encode("utf-8", "surrogateescape"))
    return 1


def rewrite(lake: Lake, key: str, kind: str, targets: Targets) -> bool:
    """Replace `key` by itself without the user's records (atomic); True when it was
    deleted instead because nothing else was left in it."""
    with tempfile.TemporaryDirectory(prefix="weblogs-forget-") as folder:
        work = Path(folder) / "object"
        if kind == "parquet":
            kept = _rewrite_parquet(lake, key, targets, work)
        elif kind == "csv":
            kept = _rewrite_csv(lake, key, targets, work)
        else:
            kept = _rewrite_lines(lake, key, kind, targets, work)
        if kept == 0:
            lake.delete(key)
            return True
        lake.put_file(key, work)
    return False


# ------------------------------------------------------------------ versions (S3)


def _versions(lake: Lake, key: str) -> list[Any]:
    return [v for v in lake.list_versions(key) if v.key == key]


def drop_old_versions(lake: Lake, key: str, *, deleted: bool) -> int:
    """Every version of `key` but the current one (all of them when it was deleted)."""
    if not isinstance(lake, S3Lake):
        return 0
    gone = 0
    for version in _versions(lake, key):
        if deleted or not version.is_latest:
            lake.delete_version(key, version.version_id)
            gone += 0 if version.delete_marker else 1
    return gone


@contextmanager
def _version_input(lake: S3Lake, key: str, version_id: str) -> Iterator[IO[bytes]]:
    """One old version in a temporary file (seekable; never whole in memory)."""
    body = lake.client.get_object(Bucket=lake.bucket, Key=key, VersionId=version_id)["Body"]
    with tempfile.TemporaryFile(prefix="weblogs-forget-") as spool:
        shutil.copyfileobj(body, spool, 2**20)
        spool.seek(0)
        yield spool


def noncurrent_with_user(lake: Lake, prefix: str, kind: str, targets: Targets) -> Iterator[Any]:
    """The noncurrent versions under `prefix` that hold a record of the user (S3 only):
    old copies of rewritten objects, and objects deleted since (compaction's inputs)."""
    if not isinstance(lake, S3Lake):
        return
    suffix = {"parquet": ".parquet", "csv": ".csv"}.get(kind, "")
    for version in lake.list_versions(prefix):
        if version.is_latest or version.delete_marker or version.version_id is None:
            continue
        if not version.key.endswith(suffix):
            continue
        try:
            with _version_input(lake, version.key, version.version_id) as source:
                judged = judge(source, kind, targets)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise unreadable(f"{version.key} (version {version.version_id})", exc) from exc
        if judged.removed:
            yield version


# ------------------------------------------------------------------ the journal


def journal_key(user_hash: str) -> str:
    return f"{PENDING}{user_hash}.json"


def load_journal(lake: Lake, user_hash: str) -> Journal | None:
    key = journal_key(user_hash)
    if not lake.exists(key):
        return None
    return Journal.from_bytes(lake.get(key))


def save_journal(lake: Lake, journal: Journal) -> None:
    lake.put(journal_key(journal.targets.user_hash), journal.to_bytes())


def remove_journal(lake: Lake, user_hash: str) -> None:
    key = journal_key(user_hash)
    lake.delete(key)
    drop_old_versions(lake, key, deleted=True)


# ------------------------------------------------------------------ finding C and S


def find_targets(lake: Lake, targets: Targets) -> Targets:
    """C (the client ids of the user's events) and S (the sessions of the user's and of
    C's events) added to `targets`, read from the id columns of events/ only."""
    keys = [k for k in lake.list(f"{layout.EVENTS}/") if k.endswith(".parquet")]
    for pick in ("user", "client"):
        targets.settle()
        if pick == "client" and not targets.client_hashes:
            break
        for key in keys:
            try:
                with lake.open_input(key) as source:
                    for table in _id_tables(source):
                        _collect(table, targets, pick)
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise unreadable(key, exc) from exc
    targets.settle()
    return targets


def _collect(table: pa.Table, targets: Targets, pick: str) -> None:
    """C from the user's rows (pick "user"), S from the user's and C's rows."""
    column = "user_id" if pick == "user" else "client_id"
    if column not in table.column_names:
        return
    if pick == "user":
        only = Targets(targets.user_hash, user_id=targets.user_id, fast=targets.fast)
        mask = row_mask(table.select([column]), only)
    else:
        only = Targets("", targets.client_hashes, clients=targets.clients, fast=targets.fast)
        mask = row_mask(table.select([column]), only)
    rows = table.filter(mask)
    if rows.num_rows == 0:
        return
    clients = rows.column("client_id").to_pylist() if "client_id" in rows.column_names else []
    targets.add(clients if pick == "user" else [], rows.column("session_id").to_pylist())


def now_iso(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def clean_temporaries(lake: Lake) -> int:
    """Temporaries a killed writer left in a lake folder may hold the user: gone."""
    if isinstance(lake, S3Lake):
        return 0
    return sum(lake.clean_temporaries(prefix, STALE_TEMPORARY_SECONDS) for _, prefix, _ in PLACES)


__all__ = [
    "PLACES",
    "Journal",
    "Judged",
    "clean_temporaries",
    "drop_old_versions",
    "find_targets",
    "judge",
    "load_journal",
    "noncurrent_with_user",
    "now_iso",
    "remove_journal",
    "rewrite",
    "save_journal",
    "stamp",
    "unreadable",
]
