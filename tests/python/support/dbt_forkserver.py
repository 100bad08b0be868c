"""A pre-forking launcher of the `dbt` command for the tests (docs/contributing.md,
Running the tests).

Every `dbt` command of a test used to start a new interpreter, import dbt and its
adapters (about 2 s) and parse the project cold (about 5 s, mostly dbt building the
JSON schemas of its own classes, once per process). This process does that once: it
imports dbt, parses the repository's project once with throw-away settings, then
serves requests, one JSON line each on stdin: `{"args", "env", "cwd", "stdout",
"stderr"}`. For each it forks; the child takes the request's environment, working
folder and output files and runs exactly what the `dbt` console script runs
(`sys.exit(cli())`), and exits like it (atexit handlers, the DuckDB database
closed, flushed streams, the same exit code). The
parent answers `{"returncode": n}` when the child has ended. So each command is the
real dbt CLI on a fresh copy of a warm process: nothing one command does reaches the
next one.

Run as `python dbt_forkserver.py REPO_ROOT` (DbtProject in dbt_helpers.py does).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path


def _warm_up(repo_root: Path) -> None:
    """Parse the project once, so the children inherit dbt's built schemas and caches."""
    from dbt.cli.main import dbtRunner

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="dbt-forkserver-") as scratch:
        work = Path(scratch)
        (work / "profiles").mkdir()
        (work / "lake").mkdir()
        (work / "profiles" / "profiles.yml").write_text(
            (repo_root / "profiles.yml.example").read_text()
        )
        os.environ.update(
            {
                "WEBLOGS_LAKE_ROOT": str(work / "lake"),
                "WEBLOGS_DUCKDB_PATH": ":memory:",
                "DBT_PROFILES_DIR": str(work / "profiles"),
                "DBT_TARGET_PATH": str(work / "target"),
                "DBT_LOG_PATH": str(work / "logs"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DBT_PARTIAL_PARSE": "false",
            }
        )
        try:
            done = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(repo_root)])
            if not done.success:
                print(f"dbt forkserver: warm-up parse failed: {done.exception}", file=sys.stderr)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _child(request: dict[str, object]) -> None:
    """In the forked child: become `dbt <args>` run from a shell (never returns)."""
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[arg-type]
    os.environ.update(_NO_STATIC_PARSER)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        out = os.open(str(request[name]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, fd)
        os.close(out)
    sys.argv = ["dbt", *[str(a) for a in request["args"]]]  # type: ignore[union-attr]
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import cli

    # The adapter keeps its DuckDB database open between commands of one process.
    DuckDBConnectionManager._ENV = None
    try:
        cli()  # click's standalone mode always ends in SystemExit, as the console script does
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # what the interpreter would print before exiting with 1
        traceback.print_exc()
        code = 1
    # The end of `python dbt ...`: atexit handlers, the DuckDB database closed (checkpointed),
    # streams flushed. Then _exit: the C++ destructors of pyarrow's and DuckDB's threads,
    # started in the server before the fork and absent here, would abort the process.
    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    """sys.exit's rule: None is 0, an int is itself, anything else is printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


#: dbt's static parser (a native extension) can deadlock in a forked child once the
#: parent has used it (seen with the visitors models): parse with Jinja, in the parent
#: and in every child alike. The rows dbt builds are the same either way.
_NO_STATIC_PARSER = {"DBT_STATIC_PARSER": "false"}


def main() -> None:
    os.environ.update(_NO_STATIC_PARSER)
    repo_root = Path(sys.argv[1])
    # Imported once for every target's commands (boto3 alone is a second).
    for adapter in ("athena", "duckdb", "trino"):
        importlib.import_module(f"dbt.adapters.{adapter}")

    _warm_up(repo_root)
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints never reach the protocol
    print(json.dumps({"ready": True}), file=replies, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            replies.close()
            _child(request)
        _, status = os.waitpid(pid, 0)
        print(
            json.dumps({"returncode": os.waitstatus_to_exitcode(status)}),
            file=replies,
            flush=True,
        )


if __name__ == "__main__":
    main()
