"""`make lint` skips a step only while its input is missing, and lints it once it exists.

Runs the real Makefile in an empty temp dir (every optional step must report a
skip and pass), then with a broken Dockerfile, CloudFormation template and
workflow (every step must run its tool and fail with the tool's finding).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
STEPS = ("lint-sql", "lint-docker", "lint-cfn", "lint-workflows")

BAD_DOCKERFILE = """\
FROM python:latest
RUN cd /tmp && pip install requests
"""
BAD_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bukket
"""
BAD_WORKFLOW = """\
name: broken
on: [pull_request]
jobs:
  build:
    steps:
      - run: echo no runs-on
"""


def make(project: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-k", "-C", str(project), *targets, f"BIN={BIN}"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lint_steps_skip_only_missing_inputs(tmp_path: Path) -> None:
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    proc = make(tmp_path, *STEPS)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    for step in STEPS:
        assert f"{step}: skipped" in output, output


def test_lint_steps_run_their_tool_once_the_input_exists(tmp_path: Path) -> None:
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "dockerfile-api").write_text(BAD_DOCKERFILE)
    (tmp_path / "deploy" / "template.yaml").write_text(BAD_TEMPLATE)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text(BAD_WORKFLOW)

    proc = make(tmp_path, "lint-docker", "lint-cfn", "lint-workflows")
    output = proc.stdout + proc.stderr

    assert proc.returncode != 0, output
    assert "skipped" not in output, output
    # hadolint: `latest` tag and `cd` in RUN, with file and line.
    assert "deploy/dockerfile-api:1 DL3007" in output, output
    assert "deploy/dockerfile-api:2 DL3003" in output, output
    # cfn-lint: unknown resource type, with file and line.
    assert "E3006" in output and "deploy/template.yaml:4" in output, output
    # check-jsonschema: the job has no runs-on.
    assert "broken.yml" in output and "runs-on" in output, output
    for step in ("lint-docker", "lint-cfn", "lint-workflows"):
        assert f": {step}] Error" in output, output
