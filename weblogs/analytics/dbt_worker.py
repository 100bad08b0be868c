"""The dbt worker: one child process that imports dbt and parses the project once, then runs
the runner's commands (`build`, `source freshness`) on that one manifest.

Why (docs/analytics.md, Start-up): each dbt process pays the import of dbt, and a change
of the CLI vars makes dbt parse the whole project again; the scheduled run's plan changes
every day. The worker parses with the run's *fixed* vars only (`parse_vars`: everything
but the run window and plan, see `RUN_VARS` in dbt_process.py), so dbt's partial parse
stays valid from one day to the next, and hands that manifest to each command, which gets
the full vars: the run vars are read only when SQL and hooks are rendered at execution
(tests/python/dbt/test_dbt_session.py holds that they change nothing a parse records).

Protocol, one JSON document per line: stdin first gives `{"args": [...], "vars": {...}}`
(the arguments every command shares, and the parse's vars), later
`[[command args, vars], ...]` (or nothing: exit). stdout carries dbt's JSON log events
and, after each command, a marker line `{"weblogs_dbt_worker": {"success": ...,
"exception": ...}}`; after the parse only when it failed (the first command's marker).
"""

from __future__ import annotations

import json
import pickle
import sys
from typing import Any

MARKER = "weblogs_dbt_worker"


def _marker(success: bool, exception: BaseException | None = None) -> None:
    text = None if exception is None else f"{type(exception).__name__}: {exception}"
    print(json.dumps({MARKER: {"success": success, "exception": text}}), flush=True)


def _invoke(runner: Any, args: list[str]) -> Any:
    done = runner.invoke(args)
    sys.stdout.flush()
    return done


def main() -> int:
    """Parse once, then run each command sent on stdin with the parsed manifest."""
    header = json.loads(sys.stdin.readline() or "null")
    if not isinstance(header, dict):
        return 0
    from dbt.cli.main import dbtRunner  # the import is the cost this process pays once

    common = [str(a) for a in header["args"]]
    parsed = _invoke(dbtRunner(), ["parse", *common, "--vars", json.dumps(header["vars"])])
    line = sys.stdin.readline()
    commands = json.loads(line) if line.strip() else []
    if commands and not parsed.success:
        _marker(False, parsed.exception)
        return 1
    # Each command gets its own copy: compiling marks nodes on the manifest (an ephemeral
    # model's CTE is injected once and then reused), so a second command would otherwise
    # run the SQL the first command's vars rendered.
    pristine = pickle.dumps(parsed.result) if commands else b""
    for command, dbt_vars in commands:
        runner = dbtRunner(manifest=pickle.loads(pristine))
        done = _invoke(runner, [*command, *common, "--vars", json.dumps(dbt_vars)])
        _marker(bool(done.success), done.exception)
        if not done.success:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
