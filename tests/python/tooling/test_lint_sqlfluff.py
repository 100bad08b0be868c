"""A style finding in a dbt model fails `make lint` (hence `make test`) with file, line and rule.

The project is copied to a temp dir, one model gets two violations (an
uppercase keyword, an implicit column alias) and the Makefile's own `lint-sql`
step is run there on that model (`SQL_DIRS`, the Makefile's list of what it lints): it
must exit non-zero and name the file, the lines and the rules, and nothing else. That the
rest of the project lints clean is `make lint`'s own check, the step before pytest in
`make test`; linting every model again here cost about 15 s of CPU per suite
(bench/RESULTS.md, 2026-12-08 03:10).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

# What the dbt templater needs to render the project, plus the lint config.
DBT_PATHS = (
    "dbt_project.yml",
    "profiles.yml.example",
    "packages.yml",
    "dependencies.yml",
    "package-lock.yml",
    "models",
    "macros",
    "tests",
    "seeds",
    "analyses",
    "snapshots",
    "dbt_packages",
    ".sqlfluff",
    ".sqlfluffignore",
    ".sqlfluff-dbt",
    "Makefile",
)
SELECT_LINE = re.compile(r"^(\s*)select\b")
ALIAS_LINE = re.compile(r"^(\s+\S.*\S) as ([a-z_][a-z0-9_]*),$")
FINDING = re.compile(r"^L:\s+(\d+) \| P:\s+\d+ \|\s+(\w+) \|", re.MULTILINE)

pytestmark = pytest.mark.slow


def copy_dbt_project(dest: Path) -> None:
    """Copy the dbt project and its lint config, without tests/python or build output."""
    for name in DBT_PATHS:
        src = REPO / name
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(
                src,
                dest / name,
                symlinks=True,
                ignore=shutil.ignore_patterns("python", "__pycache__", "target"),
            )
        elif src.is_symlink():
            (dest / name).symlink_to(src.readlink())
        elif src.exists():
            shutil.copy2(src, dest / name)
    sqlfluff_profiles = dest / ".sqlfluff-dbt" / "profiles.yml"
    assert sqlfluff_profiles.resolve().is_file(), "the lint profiles must resolve in the copy"


def pick_model_lines(model_sql: str) -> tuple[int, int] | None:
    """1-based line numbers of a `select` keyword and of a `<expr> as <alias>,` target."""
    select_at = alias_at = None
    in_jinja = False
    for number, line in enumerate(model_sql.splitlines(), start=1):
        opened = line.count("{#") + line.count("{%")
        closed = line.count("#}") + line.count("%}")
        skip = in_jinja or opened or closed or "{{" in line or line.lstrip().startswith("--")
        in_jinja = (in_jinja or opened > closed) and not closed > opened
        if skip:
            continue
        if select_at is None and SELECT_LINE.match(line):
            select_at = number
        if alias_at is None and ALIAS_LINE.match(line):
            alias_at = number
    if select_at is None or alias_at is None or select_at == alias_at:
        return None
    return select_at, alias_at


def test_broken_model_fails_make_lint_with_file_line_and_rule(tmp_path: Path) -> None:
    assert (REPO / "dbt_project.yml").is_file(), "the dbt project is missing"
    project = tmp_path / "project"
    project.mkdir()
    copy_dbt_project(project)

    candidates = sorted((project / "models").rglob("*.sql"))
    picked = next(
        (
            (path, lines)
            for path in candidates
            if (lines := pick_model_lines(path.read_text())) is not None
        ),
        None,
    )
    assert picked is not None, "no model with a plain `select` line and an `x as y,` target"
    model, (select_at, alias_at) = picked
    lines = model.read_text().splitlines(keepends=True)
    lines[select_at - 1] = SELECT_LINE.sub(r"\1SELECT", lines[select_at - 1], count=1)
    lines[alias_at - 1] = ALIAS_LINE.sub(r"\1 \2,", lines[alias_at - 1].rstrip("\n")) + "\n"
    model.write_text("".join(lines))
    relative = model.relative_to(project).as_posix()

    proc = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(project),
            "lint-sql",
            f"BIN={BIN}",
            f"SQL_DIRS={relative}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr

    assert proc.returncode != 0, output
    assert f"== [{relative}] FAIL" in output, output
    failing_files = re.findall(r"^== \[(.+)\] FAIL$", output, re.MULTILINE)
    assert failing_files == [relative], f"only the broken model may fail:\n{output}"
    findings = {(int(line), rule) for line, rule in FINDING.findall(output)}
    assert (select_at, "CP01") in findings, output
    assert (alias_at, "AL02") in findings, output
    assert {line for line, _ in findings} <= {select_at, alias_at}, output
