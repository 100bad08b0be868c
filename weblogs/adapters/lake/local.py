"""The lake as a local folder: temp file + rename for every write, `link` for create.

Temporaries are hidden and never end like the file they become
(`.tmp-<pid>-<n>-<name>.partial`): no listing here returns them, and no reader's
`*.parquet` glob does either (DuckDB's glob matches hidden files: a temporary named
`...parquet` failed a build that read the folder while it was being written).
`clean_temporaries` removes what a killed writer left.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from weblogs.adapters.lake.base import (
    LakeError,
    LakeObject,
    LakeWriteError,
    ObjectVersion,
    check_key,
)

__all__ = ["TEMP_PREFIX", "LakeWriteError", "LocalLake", "write_atomically"]

TEMP_PREFIX = ".tmp-"
#: The end of every temporary's name, so that no `*.<extension>` glob matches it.
TEMP_SUFFIX = ".partial"
_LEGACY_COMPACT = ".compact-"
_TEMP_NAMES = itertools.count()


def _temp_path(folder: str, name: str) -> str:
    return os.path.join(
        folder, f"{TEMP_PREFIX}{os.getpid()}-{next(_TEMP_NAMES)}-{name}{TEMP_SUFFIX}"
    )


def _temp_target(name: str) -> str:
    """The name a temporary was going to be published as (NUL when not a temporary);
    `.compact-<pid>-<name>.part` is what compaction staged before this module, and
    `.tmp-<pid>-<n>-<name>` (no suffix) what this module wrote before TEMP_SUFFIX."""
    if name.startswith(_LEGACY_COMPACT) and name.endswith(".part"):
        return name[len(_LEGACY_COMPACT) :].removesuffix(".part").partition("-")[2]
    if not name.startswith(TEMP_PREFIX):
        return "\0"
    pieces = name[len(TEMP_PREFIX) :].split("-", 2)
    return pieces[2].removesuffix(TEMP_SUFFIX) if len(pieces) == 3 else "\0"


def _open_temp(path: str) -> tuple[str, int]:
    """A new temporary beside `path` (its folder made when missing): (temp name, fd)."""
    folder, name = os.path.split(path)
    tmp = _temp_path(folder, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        return tmp, os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        return tmp, os.open(tmp, flags, 0o644)


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a file so readers see all of it or nothing: a temporary file in the same
    folder, renamed into place. The consumer writes hundreds of these a second, so it
    is lean: the folder is made only when missing, the temporary name needs no random
    draw (process id + counter), and the bytes go out through os.write. On any error
    the temporary is removed and the old file (if any) is left as it was."""
    target = os.fspath(path)
    tmp, fd = _open_temp(target)
    try:
        _write_all(fd, data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _failed(operation: str, path: str | Path, exc: OSError) -> LakeWriteError:
    """The operation, the path and the cause; when a folder on the way is a file, that file."""
    message = f"cannot {operation} {path}: {exc.strerror or exc}"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        for parent in Path(path).parents:
            if parent.exists():
                if not parent.is_dir():
                    message += f" ({parent} is a file, not a folder)"
                break
    return LakeWriteError(message)


class LocalLake:
    """A folder on disk; puts are atomic (temp file + rename) so readers never see half a file."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalLake({str(self.root)!r})"

    def __str__(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def check_writable(self) -> None:
        """Fail early with a clear message instead of after the work is done."""
        if self.root.exists() and not self.root.is_dir():
            raise LakeError(f"lake folder {self.root} is not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp, fd = _open_temp(os.path.join(self.root, "probe"))
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise LakeError(f"lake folder {self.root} is not writable: {exc.strerror}") from exc

    def put(self, key: str, data: bytes) -> None:
        check_key(key)  # the path is built as text: pathlib costs more than the write
        target = os.path.join(self.root, key)
        try:
            write_atomically(target, data)
        except OSError as exc:
            raise _failed("write", target, exc) from exc

    def put_file(self, key: str, source: Path) -> None:
        with self.staged(key) as tmp:
            shutil.copyfile(source, tmp)

    @contextlib.contextmanager
    def staged(self, key: str) -> Iterator[Path]:
        target = str(self.path(key))
        try:
            tmp, fd = _open_temp(target)
            os.close(fd)
        except OSError as exc:
            raise _failed("write", target, exc) from exc
        try:
            yield Path(tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise _failed("write", target, exc) from exc
        finally:
            with contextlib.suppress(OSError):  # gone once published; never fails a write
                os.unlink(tmp)

    def create(self, key: str, data: bytes) -> bool:
        """A complete temporary linked to the key: `link` fails when the key exists."""
        target = str(self.path(key))
        try:
            tmp, fd = _open_temp(target)
        except OSError as exc:
            raise _failed("create", target, exc) from exc
        try:
            _write_all(fd, data)
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError as exc:
            raise _failed("create", target, exc) from exc
        finally:
            with contextlib.suppress(OSError):  # the key holds its own link by now
                os.unlink(tmp)
        return True

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with self.path(key).open("rb") as handle:
            handle.seek(start)
            return handle.read(length)

    def open_input(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def stat(self, key: str) -> LakeObject | None:
        try:
            info = self.path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return LakeObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            path.unlink(missing_ok=True)
        except NotADirectoryError:
            return
        except OSError as exc:
            raise _failed("delete", path, exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        for obj in self.list_objects(prefix):
            yield obj.key

    def list_objects(self, prefix: str = "") -> Iterator[LakeObject]:
        """Objects whose key starts with `prefix`, in key order, temporaries left out."""
        folder, _, _ = prefix.rpartition("/")
        base = self.root.joinpath(*folder.split("/")) if folder else self.root
        if not base.is_dir():
            return
        for path in sorted(self._files(base)):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                with contextlib.suppress(FileNotFoundError):
                    info = path.stat()
                    yield LakeObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    @staticmethod
    def _files(base: Path, *, hidden: bool = False) -> Iterator[Path]:
        for folder, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if hidden == name.startswith("."):
                    yield Path(folder) / name

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """A folder keeps no history: one (current) version per file."""
        for obj in self.list_objects(prefix):
            yield ObjectVersion(obj.key, None, obj.size, is_latest=True)

    def delete_version(self, key: str, version_id: str | None) -> None:
        if version_id is not None:
            raise LakeError(f"a lake folder has no versions: cannot delete {key}@{version_id}")
        self.delete(key)

    def clean_temporaries(
        self, prefix: str, older_than_seconds: float, *, name_prefix: str = ""
    ) -> int:
        folder = prefix.rpartition("/")[0]
        base = self.root.joinpath(*folder.split("/")) if folder else self.root
        if not base.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self._files(base, hidden=True):
            if _temp_target(path.name).startswith(name_prefix):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime <= cutoff:
                        path.unlink()
                        removed += 1
        return removed
