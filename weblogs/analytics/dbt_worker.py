"""The dbt worker: one child process that imports dbt and parses the project once, then runs
the runner's commands (`build`, `source freshness`) on that one manifest.

Why (docs/analytics.md, Start-up): each dbt process pays the import of dbt, and a change
of the CLI vars makes dbt parse the whole project again; the scheduled run's plan changes
every day. The worker parses with the run's *fixed* vars only (`parse_vars`: everything
but the run window and plan, see `RUN_VARS` in dbt_process.py), so dbt's partial parse
stays valid from one day to the next, and hands that manifest to each command, which gets
the full vars: the run vars are read only when SQL and hooks are rendered at execution
(tests/python/dbt/test_dbt_session.py holds that they change nothing a parse records).

The kept parse (`kept_manifest`): even dbt's partial parse of an unchanged project costs
about a second (reading its msgpack state back, validating the project, writing
manifest.json). So after a parse the worker keeps the parsed manifest, pickled, in the
target path next to a key over everything the parse read (parse_key.py: the project's
files, the profile, the fixed vars and args, the env vars they name, dbt's versions);
the next run whose key is the same loads it instead of calling dbt's parse at all.

Started as a script (`python -P .../dbt_worker.py`, not `-m weblogs.analytics...`), so
the runner's own package is not imported before dbt; it imports only the standard
library and parse_key.py, found next to it.

Protocol, one JSON document per line: stdin first gives `{"args": [...], "vars": {...}}`
(the arguments every command shares, and the parse's vars), later
`[[command args, vars], ...]` (or nothing: exit). stdout carries dbt's JSON log events,
one line `{"weblogs_dbt_worker_parse": "kept" | "parsed" | "failed"}` after the parse,
and, after each command, a marker line `{"weblogs_dbt_worker": {"success": ...,
"exception": ...}}`; after the parse only when it failed (the first command's marker).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

if __package__:
    from weblogs.analytics import parse_key
else:  # run as a script: parse_key.py sits next to this file, loaded by its path
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "weblogs_dbt_worker_parse_key", Path(__file__).with_name("parse_key.py")
    )
    assert _spec is not None and _spec.loader is not None
    parse_key = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(parse_key)

MARKER = "weblogs_dbt_worker"
#: The line that says whether the manifest was the kept one or a parse of dbt's.
PARSE_MARKER = "weblogs_dbt_worker_parse"


def _marker(success: bool, exception: BaseException | None = None) -> None:
    text = None if exception is None else f"{type(exception).__name__}: {exception}"
    print(json.dumps({MARKER: {"success": success, "exception": text}}), flush=True)


def _invoke(runner: Any, args: list[str]) -> Any:
    done = runner.invoke(args)
    sys.stdout.flush()
    return done


def _kept(common: list[str], parse_vars: dict[str, Any]) -> tuple[str | None, bytes, Any]:
    """The kept manifest (its key, its pickle, the manifest) when its key still holds;
    a file that does not unpickle counts as none."""
    key = parse_key.parse_key(common, parse_vars, os.environ)
    kept = parse_key.load(key, os.environ, common)
    if kept is not None:
        try:
            return key, kept, pickle.loads(kept)
        except Exception:  # any broken pickle: dbt parses instead
            pass
    return key, b"", None


def main() -> int:
    """Take the kept parse or parse once, then run each command sent on stdin with it."""
    header = json.loads(sys.stdin.readline() or "null")
    if not isinstance(header, dict):
        return 0
    from dbt.cli.main import dbtRunner  # the import is the cost this process pays once

    common = [str(a) for a in header["args"]]
    key, pristine, manifest = _kept(common, dict(header["vars"]))
    parsed, how = None, "kept"
    if manifest is None:
        parsed = _invoke(dbtRunner(), ["parse", *common, "--vars", json.dumps(header["vars"])])
        how = "parsed" if parsed.success else "failed"
        if parsed.success:
            pristine = pickle.dumps(parsed.result)
            parse_key.store(key, pristine, os.environ, common)
    print(json.dumps({PARSE_MARKER: how}), flush=True)
    line = sys.stdin.readline()
    commands = json.loads(line) if line.strip() else []
    if commands and not pristine:
        _marker(False, getattr(parsed, "exception", None))
        return 1
    # Each command gets its own copy: compiling marks nodes on the manifest (an ephemeral
    # model's CTE is injected once and then reused), so a second command would otherwise
    # run the SQL the first command's vars rendered. The kept one's first copy is loaded.
    for command, dbt_vars in commands:
        runner = dbtRunner(manifest=manifest if manifest is not None else pickle.loads(pristine))
        manifest = None
        done = _invoke(runner, [*command, *common, "--vars", json.dumps(dbt_vars)])
        _marker(bool(done.success), done.exception)
        if not done.success:
            return 1
    return 0


#: How the runner starts the worker: the script itself, without its package (-P: not its
#: folder on sys.path either, whose module names could shadow the ones dbt imports).
SCRIPT = Path(__file__).resolve()

if __name__ == "__main__":
    sys.exit(main())
