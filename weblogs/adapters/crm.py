"""CRM loads' I/O: check the files on disk, then snapshot and replace the lake's extract.

A load is all or nothing: every file is checked (`weblogs.core.crm`) into a
canonical temporary copy, and only when no file has a problem are the snapshots
(`crm/snapshots/<UTC time>/`) and then the current extracts written through the
one `Lake`, each one replaced atomically; if a write fails, the extracts already
replaced are put back, so the lake holds the old load or the new one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from weblogs.adapters.lake import Lake, LakeError, S3Lake
from weblogs.core.crm import MAX_LINE_BYTES, ExtractChecker, Problem
from weblogs.core.errors import UsageError
from weblogs.core.layout import (
    crm_current_key,
    crm_snapshot_folder,
    crm_snapshot_key,
    crm_snapshot_stamp,
    crm_table_prefix,
)


@dataclass
class Checked:
    """A checked extract: its canonical CSV in a temporary file, and what was found."""

    kind: str
    source: Path
    canonical: Path
    rows: int = 0
    problems: int = 0
    dropped_columns: list[str] = field(default_factory=list)


def _lines(handle: io.BufferedIOBase) -> Iterator[tuple[int, bytes | None]]:
    """Numbered physical lines without their line end (`\\n` or `\\r\\n`); None for a
    line longer than MAX_LINE_BYTES, which is skipped without being held in memory."""
    number = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, None
            continue
        line = raw[:-1] if raw.endswith(b"\n") else raw
        yield number, line[:-1] if line.endswith(b"\r") else line


def check_file(
    kind: str,
    source: Path,
    canonical: Path,
    report: Callable[[Problem], None],
    *,
    allow_empty: bool = False,
) -> Checked:
    """Check `source` line by line (problems to `report`), its canonical CSV to `canonical`."""
    checker = ExtractChecker(kind, str(source), report, allow_empty=allow_empty)
    try:
        if source.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        handle = source.open("rb")
    except OSError as exc:
        checker.problem(None, f"cannot be read: {exc.strerror}")
    else:
        with handle, canonical.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(checker.canonical_rows(_lines(handle)))
    return Checked(kind, source, canonical, checker.rows, checker.problems, checker.dropped_columns)


@dataclass
class LoadResult:
    """What a load did (or why it did nothing)."""

    checked: list[Checked]
    problems: int
    snapshot: str | None = None
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _checked_files(
    files: dict[str, Path], work: Path, report: Callable[[Problem], None], allow_empty: bool
) -> list[Checked]:
    return [
        check_file(kind, path, work / f"{kind}.csv", report, allow_empty=allow_empty)
        for kind, path in sorted(files.items())
    ]


def _keep_old(lake: Lake, key: str, work: Path) -> Path | None:
    """A local copy of the extract a load is about to replace (None: there is none)."""
    if not lake.exists(key):
        return None
    copy = work / f"old-{len(list(work.iterdir()))}"
    with lake.open_input(key) as source, copy.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    return copy


def _restore(lake: Lake, replaced: list[tuple[str, Path | None]]) -> None:
    """Put back what a failed load replaced (best effort: the first error is the one told)."""
    for key, old in reversed(replaced):
        with contextlib.suppress(Exception):
            if old is None:
                lake.delete(key)
            else:
                lake.put_file(key, old)


def _write(lake: Lake, checked: list[Checked], stamp: str, work: Path, result: LoadResult) -> None:
    """Snapshots first (new keys), then each current extract; on an error, every current
    extract already replaced is put back and the new snapshots removed: all or nothing."""
    s3 = isinstance(lake, S3Lake)
    snapshots: list[str] = []
    replaced: list[tuple[str, Path | None]] = []
    try:
        for c in checked:
            key = crm_snapshot_key(stamp, c.kind)
            lake.put_file(key, c.canonical)
            snapshots.append(key)
        for c in checked:
            key = crm_current_key(c.kind, s3=s3)
            replaced.append((key, _keep_old(lake, key, work)))  # before: a write may half-fail
            lake.put_file(key, c.canonical)
            result.written.append(key)
    except Exception as exc:
        _restore(lake, replaced)
        for key in snapshots:
            with contextlib.suppress(Exception):
                lake.delete(key)
        if isinstance(exc, LakeError):
            raise
        raise LakeError(f"cannot write the CRM extracts to {lake}: {exc}") from exc


def _others(lake: Lake, kind: str) -> list[str]:
    """Objects in a Glue table's folder besides the current extract (Athena would read them)."""
    if not isinstance(lake, S3Lake):
        return []
    keep = crm_current_key(kind, s3=True)
    return [key for key in lake.list(crm_table_prefix(kind)) if key != keep]


def load(
    files: dict[str, Path],
    lake: Lake,
    *,
    now: datetime | None = None,
    report: Callable[[Problem], None] = lambda p: print(p, file=sys.stderr),
    allow_empty: bool = False,
) -> LoadResult:
    """Check every file; only when none has a problem, snapshot and replace the extracts.

    Order of writes: the snapshot first (so every current extract has its snapshot),
    then each current extract (customers before ratings), each replaced atomically;
    a failure on the way puts back what was replaced (`_write`).
    """
    if not files:
        raise UsageError("give --customers and/or --ratings")
    try:
        return _load(files, lake, now, report, allow_empty)
    except OSError as exc:  # the lake's own errors are LakeErrors: this is the local copy
        where = exc.filename or tempfile.gettempdir()
        raise UsageError(
            f"cannot write the checked copy in {where}: {exc.strerror or exc}"
        ) from exc


def _load(
    files: dict[str, Path],
    lake: Lake,
    now: datetime | None,
    report: Callable[[Problem], None],
    allow_empty: bool,
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="weblogs-crm-") as work:
        checked = _checked_files(files, Path(work), report, allow_empty)
        problems = sum(c.problems for c in checked)
        result = LoadResult(checked, problems)
        if problems:
            return result
        lake.check_writable()
        stamp = crm_snapshot_stamp(now or datetime.now(UTC))
        if any(lake.exists(crm_snapshot_key(stamp, c.kind)) for c in checked):
            raise UsageError(f"snapshot {stamp} exists already; run the load again")
        result.snapshot = crm_snapshot_folder(stamp)
        _write(lake, checked, stamp, Path(work), result)
        for c in checked:
            for other in _others(lake, c.kind):
                lake.delete(other)
                result.removed.append(other)
        return result
