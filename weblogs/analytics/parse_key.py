"""The kept parse of the dbt worker: a key over everything a dbt parse reads, and the
pickled manifest stored under it in the target path (docs/analytics.md, Start-up).

Why: with the fixed vars, the next day's parse is dbt's partial parse of an unchanged
project, and that still costs about a second (dbt hashes every file, reads its msgpack
state back through generated code, validates the project, writes manifest.json). The
worker instead keeps the manifest dbt parsed, pickled (loaded in a few hundredths of a
second), under a key that changes whenever what dbt's own partial-parse check looks at
changes: every file of the project's paths and its root YAML files, the profile's text,
the worker's arguments and fixed vars, the values of every env var those files name with
`env_var('...')` and of every `DBT_*` variable, and the versions of Python and dbt.
Another key, an unreadable or foreign file: dbt parses as before and the file is replaced.

Hostile by default: a pickle runs code when loaded, so the file is written 0600 and read
only when it is a regular file owned by this user and writable by no one else (the same
trust as the project's own SQL in the same folder tree). Standard library and PyYAML only:
the worker loads this module by its path, without the runner's package (dbt_worker.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

#: The kept manifest's file in the target path: the key's hex digest, a newline, the pickle.
FILE_NAME = "weblogs_manifest.pickle"
#: The distributions whose version changes what a parse produces.
DISTRIBUTIONS = (
    "dbt-core", "dbt-common", "dbt-adapters", "dbt-duckdb", "dbt-athena",
    "dbt-athena-community", "dbt-trino",
)  # fmt: skip
#: The project's folders dbt reads, by dbt_project.yml key, with dbt's defaults.
PATH_KEYS = {
    "model-paths": ["models"], "macro-paths": ["macros"], "test-paths": ["tests"],
    "seed-paths": ["seeds"], "snapshot-paths": ["snapshots"], "analysis-paths": ["analyses"],
    "function-paths": ["functions"], "docs-paths": [],
}  # fmt: skip
ROOT_FILES = (
    "dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml", "catalogs.yml",
    "package-lock.yml",
)  # fmt: skip
#: The files dbt's readers take (models, macros, tests, docs, seeds, python models).
SUFFIXES = frozenset({".sql", ".py", ".yml", ".yaml", ".md", ".csv", ".jinja", ".jinja2"})
ENV_VAR_RE = re.compile(rb"""env_var\(\s*['"]([^'"]{1,200})['"]""")
#: Env vars that name where things are, not what a parse reads (the profile's text is keyed).
IGNORED_ENV = frozenset({"DBT_PROFILES_DIR"})


def _arg(common: Sequence[str], flag: str) -> str | None:
    for index, value in enumerate(common[:-1]):
        if value == flag:
            return common[index + 1]
    return None


def project_dir(common: Sequence[str], env: Mapping[str, str]) -> Path:
    """The project folder the worker's commands name (dbt's flag, env var, or the cwd)."""
    return Path(_arg(common, "--project-dir") or env.get("DBT_PROJECT_DIR") or os.getcwd())


def _project(project: Path) -> dict[str, Any] | None:
    try:
        loaded = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def target_path(common: Sequence[str], env: Mapping[str, str]) -> Path | None:
    """dbt's target path for these arguments: flag, env var, dbt_project.yml, `target`."""
    project = project_dir(common, env)
    configured = _project(project) or {}
    value = (
        _arg(common, "--target-path")
        or env.get("DBT_TARGET_PATH")
        or configured.get("target-path")
        or "target"
    )
    if not isinstance(value, str) or "{{" in value:
        return None  # rendered by dbt: not worth guessing
    return project / value


def _profiles(common: Sequence[str], env: Mapping[str, str], project: Path) -> Path:
    chosen = _arg(common, "--profiles-dir") or env.get("DBT_PROFILES_DIR")
    if chosen:
        return Path(chosen) / "profiles.yml"
    here = Path.cwd() / "profiles.yml"
    return here if here.is_file() else Path.home() / ".dbt" / "profiles.yml"


def _folders(project: Path, configured: Mapping[str, Any]) -> list[Path] | None:
    folders: list[str] = []
    for key, default in PATH_KEYS.items():
        value = configured.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None
        folders += value
    install = configured.get("packages-install-path", "dbt_packages")
    if not isinstance(install, str) or any("{{" in f for f in [*folders, install]):
        return None
    return [project / f for f in sorted({*folders, install})]


def _files(folders: Sequence[Path]) -> Iterator[Path]:
    """The files dbt may read in `folders`: by suffix, as dbt's readers select them
    (Python caches and other tools' files change without changing a parse)."""
    for folder in folders:
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in sorted(names):
                if Path(name).suffix.lower() in SUFFIXES:
                    yield Path(root) / name


def parse_key(
    common: Sequence[str], parse_vars: Mapping[str, Any], env: Mapping[str, str]
) -> str | None:
    """The key of what a parse with these arguments and vars reads; None when it cannot
    be told (a path dbt would render, no dbt_project.yml): then dbt always parses."""
    project = project_dir(common, env)
    configured = _project(project)
    folders = None if configured is None else _folders(project, configured)
    if configured is None or folders is None:
        return None
    digest = hashlib.sha256()
    texts: list[bytes] = []
    paths = {os.path.relpath(path, project): path for path in _files(folders)}
    paths |= {name: project / name for name in ROOT_FILES}
    paths["(profiles.yml)"] = _profiles(common, env, project)  # its folder may be a temp one
    for relative, path in sorted(paths.items()):
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            text = None
        except OSError:
            return None
        name = relative.encode()
        digest.update(name + b"\0" + (hashlib.sha256(text).digest() if text is not None else b"-"))
        texts.append(text or b"")
    names = {m.decode() for text in texts for m in ENV_VAR_RE.findall(text)}
    names |= {n for n in env if n.startswith("DBT_")}
    versions = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    rest = {
        "python": sys.version,
        "versions": versions,
        "args": list(common),
        "vars": parse_vars,
        "env": {n: env.get(n) for n in sorted(names - IGNORED_ENV)},
    }
    digest.update(json.dumps(rest, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _kept_file(common: Sequence[str], env: Mapping[str, str]) -> Path | None:
    target = target_path(common, env)
    return None if target is None else target / FILE_NAME


def load(key: str | None, env: Mapping[str, str], common: Sequence[str]) -> bytes | None:
    """The kept manifest's pickle when its key is `key` and the file is trusted, else None."""
    path = _kept_file(common, env)
    if key is None or path is None:
        return None
    try:
        with open(path, "rb") as handle:
            status = os.fstat(handle.fileno())
            trusted = (
                stat.S_ISREG(status.st_mode)
                and status.st_uid == os.getuid()
                and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            )
            if not trusted or handle.readline() != key.encode() + b"\n":
                return None
            return handle.read()
    except OSError:
        return None


def store(key: str | None, pickled: bytes, env: Mapping[str, str], common: Sequence[str]) -> None:
    """Keep `pickled` under `key` in the target path (0600, replaced whole); best effort."""
    path = _kept_file(common, env)
    if key is None or path is None:
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=FILE_NAME, dir=path.parent)  # 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.encode() + b"\n")
            handle.write(pickled)
        os.replace(tmp, path)
    except OSError:  # a read-only target path: the next run parses again
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
