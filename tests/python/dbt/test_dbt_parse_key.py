"""The dbt worker's kept parse (weblogs/analytics/parse_key.py): taken only while nothing a
parse reads has changed, and only from a file nobody else could have written.

A manifest kept too long runs yesterday's SQL (a changed model, macro, var or profile);
a pickle planted by someone else runs their code. Each case below is one of those.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dbt_helpers import project_copy

from weblogs.analytics import parse_key
from weblogs.analytics.dbt_worker import PARSE_MARKER, SCRIPT


def _setting(tmp_path: Path) -> tuple[Path, list[str], dict[str, Any], dict[str, str]]:
    project = project_copy(tmp_path)
    common = ["--target", "local", "--project-dir", str(project), "--log-format", "json"]
    env = {
        "DBT_PROFILES_DIR": str(tmp_path / "profiles"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "WEBLOGS_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
    }
    return project, common, {"lake_root": str(tmp_path / "lake")}, env


def test_the_key_changes_with_everything_a_parse_reads_and_nothing_else(tmp_path: Path) -> None:
    project, common, parse_vars, env = _setting(tmp_path)
    key = parse_key.parse_key(common, parse_vars, env)
    assert key and key == parse_key.parse_key(common, dict(parse_vars), dict(env))

    def changed(**kwargs: Any) -> bool:
        return parse_key.parse_key(
            kwargs.get("common", common), kwargs.get("vars", parse_vars), kwargs.get("env", env)
        ) != key  # fmt: skip

    # What a parse reads: each change gives another key.
    assert changed(vars={"lake_root": "/elsewhere"})
    assert changed(common=[*common, "--no-partial-parse"])
    assert changed(env={**env, "WEBLOGS_DUCKDB_PATH": "/other.duckdb"})  # named by the profile
    assert changed(env={**env, "WEBLOGS_GLUE_DATABASE": "other"})  # named by a source
    assert changed(env={**env, "DBT_STATIC_PARSER": "false"})  # every DBT_ flag
    for path in (
        project / "models" / "staging" / "stg_weblogs__events.sql",
        project / "macros" / "window" / "run_window.sql",
        project / "models" / "marts" / "_marts.yml",
        project / "dbt_project.yml",
        tmp_path / "profiles" / "profiles.yml",
    ):
        original = path.read_bytes()
        path.write_bytes(
            original + b"\n-- changed\n" if path.suffix == ".sql" else original + b"\n"
        )
        assert changed(), path
        path.write_bytes(original)
        assert not changed(), path
    new_model = project / "models" / "marts" / "new_model.sql"
    new_model.write_text("select 1 as one\n")
    assert changed()
    new_model.unlink()

    # What it does not read: the same key.
    moved = tmp_path / "moved-profiles"
    shutil.copytree(tmp_path / "profiles", moved)  # the runner's profile is in a temp folder
    assert not changed(env={**env, "DBT_PROFILES_DIR": str(moved)})
    assert not changed(env={**env, "WEBLOGS_NOW": "2026-10-11T00:00:00Z"})
    cache = project / "models" / "__pycache__"
    cache.mkdir()
    (cache / "x.cpython-311.pyc").write_bytes(b"\0")
    assert not changed()


def test_no_key_when_a_path_would_be_rendered(tmp_path: Path) -> None:
    """A dbt_project.yml path dbt would render with Jinja: no guess, dbt parses."""
    project, common, parse_vars, env = _setting(tmp_path)
    text = (project / "dbt_project.yml").read_text()
    (project / "dbt_project.yml").write_text(
        text.replace('model-paths: ["models"]', "model-paths: [\"{{ env_var('X') }}\"]")
    )
    assert parse_key.parse_key(common, parse_vars, env) is None
    assert parse_key.load(None, env, common) is None


def test_a_kept_manifest_is_loaded_only_under_its_key_from_a_trusted_file(tmp_path: Path) -> None:
    _, common, parse_vars, env = _setting(tmp_path)
    key = parse_key.parse_key(common, parse_vars, env)
    payload = pickle.dumps({"manifest": 1})
    parse_key.store(key, payload, env, common)
    kept = tmp_path / "target" / parse_key.FILE_NAME
    assert kept.stat().st_mode & 0o777 == 0o600
    assert parse_key.load(key, env, common) == payload
    assert parse_key.load("0" * 64, env, common) is None  # another key: never unpickled
    kept.chmod(0o666)  # anyone could have replaced it
    assert parse_key.load(key, env, common) is None
    kept.chmod(0o620)
    assert parse_key.load(key, env, common) is None
    kept.unlink()
    kept.mkdir()  # not a regular file
    assert parse_key.load(key, env, common) is None


def test_storing_into_a_folder_it_cannot_write_is_no_error(tmp_path: Path) -> None:
    _, common, parse_vars, env = _setting(tmp_path)
    (tmp_path / "target").write_text("a file where the folder should be")
    key = parse_key.parse_key(common, parse_vars, env)
    parse_key.store(key, b"x", env, common)  # no exception: the next run parses again
    assert parse_key.load(key, env, common) is None


def _worker(env: dict[str, str], common: list[str], parse_vars: dict[str, Any]) -> str:
    """One worker run without commands: how it got its manifest (kept, parsed, failed)."""
    header = json.dumps({"args": common, "vars": parse_vars}) + "\n\n"
    done = subprocess.run(
        [sys.executable, "-P", str(SCRIPT)], input=header, capture_output=True, text=True,
        env={**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = [
        json.loads(line)[PARSE_MARKER]
        for line in done.stdout.splitlines()
        if line.startswith("{") and PARSE_MARKER in line
    ]
    assert len(found) == 1, done.stdout[-2000:]
    return str(found[0])


@pytest.mark.slow
def test_the_worker_keeps_its_parse_until_something_it_read_changes(tmp_path: Path) -> None:
    """The worker as the runner starts it: the first run parses, the next keeps that parse;
    a changed model, other fixed vars or a kept file others could write make it parse."""
    project, common, parse_vars, env = _setting(tmp_path)
    assert _worker(env, common, parse_vars) == "parsed"
    assert _worker(env, common, parse_vars) == "kept"
    model = project / "models" / "marts" / "session_metrics.sql"
    model.write_text(model.read_text() + "\n{# changed #}\n")
    assert _worker(env, common, parse_vars) == "parsed"
    assert _worker(env, common, parse_vars) == "kept"
    assert _worker(env, common, {"lake_root": str(tmp_path / "other")}) == "parsed"
    kept = tmp_path / "target" / parse_key.FILE_NAME
    kept.chmod(0o666)
    assert _worker(env, common, {"lake_root": str(tmp_path / "other")}) == "parsed"
    assert kept.stat().st_mode & 0o777 == 0o600  # replaced by the parse
