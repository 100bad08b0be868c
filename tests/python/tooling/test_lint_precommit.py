"""The pre-commit config runs offline with the pinned tools and fixes or reports findings.

A throwaway git repo gets the project's .pre-commit-config.yaml and pyproject.toml,
a `.venv` link to this virtualenv, and files that break each hook. Any network
access would go to a dead proxy, so this also proves no hook repo is cloned.
The SQL hooks are exercised by test_lint_sqlfluff.py through `make lint-sql`,
which runs the same sqlfluff command on the same config.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

UGLY_PY = "import sys\nimport os\n\nx=1   \nprint( sys, os)"
FIXED_PY = "import os\nimport sys\n\nx = 1\nprint(sys, os)\n"
# Markdown: a kept two-space line break, a trailing space, a Python block for
# ruff format, and extra blank lines at the end.
NOTES_MD = "two-space line break  \nend \n\n```python\nx=1\n```\n\n\n"
FIXED_NOTES_MD = "two-space line break  \nend\n\n```python\nx = 1\n```\n"
GOOD_WORKFLOW = """\
name: ok
on: [pull_request]
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - run: echo ok
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.mark.slow  # runs pre-commit (ruff, sqlfluff hooks) over a repository: a whole tool
def test_pre_commit_runs_offline_and_fixes_or_fails(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copy2(REPO / ".pre-commit-config.yaml", repo / ".pre-commit-config.yaml")
    shutil.copy2(REPO / "pyproject.toml", repo / "pyproject.toml")
    (repo / ".venv").symlink_to(Path(sys.prefix))
    (repo / ".gitignore").write_text(".venv\n")
    (repo / "mod.py").write_text(UGLY_PY)
    (repo / "notes.md").write_text(NOTES_MD)
    (repo / "deploy").mkdir()
    (repo / "deploy" / "dockerfile-api").write_text("FROM python:latest\n")
    (repo / "deploy" / "template.yaml").write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Bucket:\n    Type: AWS::S3::Bukket\n'
    )
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ok.yml").write_text(GOOD_WORKFLOW)
    git(repo, "add", "-A")

    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [str(BIN / "pre-commit"), "run", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    results = {
        line.rsplit(".", 1)[0].rstrip("."): line.rsplit(".", 1)[1]
        for line in proc.stdout.splitlines()
        if "...." in line
    }

    assert proc.returncode == 1, output
    # Fixers rewrote the files; checkers reported the broken ones.
    assert (repo / "mod.py").read_text() == FIXED_PY
    assert (repo / "notes.md").read_text() == FIXED_NOTES_MD
    assert results["ruff check"] == "Failed", output
    assert results["ruff format"] == "Failed", output
    assert results["fix end of files"] == "Failed", output
    assert results["trim trailing whitespace"] == "Failed", output
    assert results["hadolint"] == "Failed" and "DL3007" in output, output
    assert results["cfn-lint"] == "Failed" and "E3006" in output, output
    assert results["check GitHub workflows (schema)"] == "Passed", output
    assert results["sqlfluff lint"].startswith("(no files to check)Skipped"), output
