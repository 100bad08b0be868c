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

The kept parse (issue 27): a warm parse still costs about 1.7 s, and every command of a
test used to pay it (DBT_PARTIAL_PARSE is off, and the vars differ from one command to the
next). As `weblogs models`' worker does (weblogs/analytics/dbt_worker.py), the server
parses a project once per key (weblogs.analytics.parse_key: the project's files, the
profile, the arguments and fixed vars, the env vars they name) with the command's vars
minus the run vars (RUN_VARS: read only when SQL and hooks are rendered at execution,
which tests/python/dbt/test_dbt_session.py holds), and each forked child runs the same
CLI with that manifest on its context instead of parsing. A parse that fails or says
anything at warning level is not kept: the child then parses itself, as before, so its
output holds the parse's own messages. Commands that are not in `REUSE`, or arguments it
cannot tell (`_parse_request`), parse as before.

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
from collections import OrderedDict
from pathlib import Path
from typing import Any

import yaml

#: The commands whose manifest may come from the kept parse (a `parse` parses).
REUSE = frozenset({
    ("build",), ("run",), ("test",), ("compile",), ("seed",), ("show",), ("ls",), ("list",),
    ("run-operation",), ("source", "freshness"), ("docs", "generate"),
})  # fmt: skip
#: Options that only choose what runs and how it is shown, with a value / without one:
#: left out of the parse's arguments and key. Any other option is kept (and passed to
#: the parse: one `dbt parse` refuses is simply not kept).
EXEC_VALUE_OPTIONS = frozenset({
    "--select", "-s", "--models", "-m", "--exclude", "--resource-type", "--resource-types",
    "--exclude-resource-type", "--exclude-resource-types", "--threads", "--args", "--inline",
    "--limit", "--output", "-o", "--output-keys", "--indirect-selection", "--log-format",
    "--log-level", "--log-level-file", "--log-format-file", "--event-time-start",
    "--event-time-end",
})  # fmt: skip
#: Those that take several values, space-separated (`--select a b`).
EXEC_MULTI_OPTIONS = frozenset({
    "--select", "-s", "--models", "-m", "--exclude", "--resource-type", "--resource-types",
    "--exclude-resource-type", "--exclude-resource-types",
})  # fmt: skip
EXEC_FLAGS = frozenset({
    "--full-refresh", "-f", "--quiet", "-q", "--fail-fast", "-x", "--no-fail-fast", "--empty",
    "--store-failures", "--no-compile", "--compile", "--introspect", "--no-introspect",
    "--no-populate-cache", "--populate-cache", "--no-version-check", "--version-check",
})  # fmt: skip
#: Manifests kept in this process, newest last.
KEPT: OrderedDict[str, Any] = OrderedDict()
KEEP = 6


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


def _parse_request(args: list[str]) -> tuple[list[str], dict[str, Any]] | None:
    """The arguments a parse for `args` takes (the command, the execution-only options and
    the vars left out) and the vars it takes (all but the run vars); None: not kept."""
    from weblogs.analytics.dbt_process import RUN_VARS

    words = next((w for w in REUSE if tuple(args[: len(w)]) == w), None)
    if words is None:
        return None
    rest = args[len(words) :]
    if words == ("run-operation",):
        if not rest or rest[0].startswith("-"):
            return None
        rest = rest[1:]  # the macro's name
    common: list[str] = []
    parse_vars: dict[str, Any] = {}
    index = 0
    while index < len(rest):
        arg = rest[index]
        if arg == "--vars" and index + 1 < len(rest):
            try:
                loaded = yaml.safe_load(rest[index + 1])
            except yaml.YAMLError:
                return None
            if not isinstance(loaded, dict):
                return None
            parse_vars = {k: v for k, v in loaded.items() if k not in RUN_VARS}
            index += 2
        elif arg in EXEC_VALUE_OPTIONS:
            index += 2
            if arg in EXEC_MULTI_OPTIONS:  # `--select a b c`: every value up to an option
                while index < len(rest) and not rest[index].startswith("-"):
                    index += 1
        elif arg in EXEC_FLAGS:
            index += 1
        elif arg.startswith("-") and "=" in arg:
            return None  # `--option=value`: not told apart here
        else:
            common.append(arg)
            index += 1
    return common, parse_vars


def _kept_manifest(request: dict[str, Any]) -> Any:
    """The manifest parsed for this request's key (parsing it now if needed), or None."""
    from weblogs.analytics.parse_key import parse_key

    told = _parse_request([str(a) for a in request["args"]])
    if told is None:
        _count("not kept: a command or arguments it does not tell")
        return None
    common, parse_vars = told
    if "--project-dir" not in common:  # the key would read this process's folder, not the request's
        _count("not kept: no --project-dir")
        return None
    env = {str(k): str(v) for k, v in dict(request["env"]).items()}
    key = parse_key(common, parse_vars, env)
    if key is None:
        _count("not kept: no key")
        return None
    _count("kept" if key in KEPT else "parsed")
    if key not in KEPT:
        KEPT[key] = _parse(common, parse_vars, env, Path(str(request["cwd"])))
        while len(KEPT) > KEEP:
            KEPT.popitem(last=False)
    KEPT.move_to_end(key)
    if KEPT[key] is None:
        _count("not kept: the parse failed or warned")
    return KEPT[key]


def _count(what: str) -> None:
    """One line per request in $WEBLOGS_TESTS_FORKSERVER_LOG, when set (how often the kept
    parse served: docs/contributing.md, Running the tests)."""
    log = os.environ.get("WEBLOGS_TESTS_FORKSERVER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {what}\n")


def _parse(common: list[str], parse_vars: dict[str, Any], env: dict[str, str], cwd: Path) -> Any:
    """dbt's parse in this process with the request's environment, writing nothing of the
    test's (its target and log folders are scratch ones); None when it failed or warned."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    said: list[str] = []

    def listen(event: Any) -> None:
        if event.info.level in ("warn", "error"):
            said.append(f"{event.info.name}: {event.info.msg[:160]}")

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    with tempfile.TemporaryDirectory(prefix="dbt-forkserver-parse-") as scratch:
        os.environ.clear()
        os.environ.update(env)
        os.environ.update(_NO_STATIC_PARSER)
        os.environ.update({"DBT_TARGET_PATH": f"{scratch}/target", "DBT_LOG_PATH": scratch})
        os.chdir(cwd)
        try:
            done = dbtRunner(callbacks=[listen]).invoke(
                ["parse", "--quiet", *common, "--vars", yaml.safe_dump(parse_vars)]
            )
        except BaseException:
            done = None
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            DuckDBConnectionManager._ENV = None
    if done is None or not done.success or said:
        _count(f"refused: {sorted(set(said))} {getattr(done, 'exception', None)!r:.200}")
        return None
    return done.result


def _child(request: dict[str, object], manifest: Any) -> None:
    """In the forked child: become `dbt <args>` run from a shell (never returns); with
    `manifest` on the CLI's context when there is a kept one (the same CLI, no parse)."""
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
        # click's standalone mode always ends in SystemExit, as the console script does
        cli() if manifest is None else cli.main(obj={"manifest": manifest, "callbacks": []})
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
        try:
            manifest = _kept_manifest(request)
        except Exception:  # the key or the parse could not be had: the child parses
            _count("not kept: no key")
            manifest = None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            replies.close()
            _child(request, manifest)
        _, status = os.waitpid(pid, 0)
        print(
            json.dumps({"returncode": os.waitstatus_to_exitcode(status)}),
            file=replies,
            flush=True,
        )


if __name__ == "__main__":
    main()
