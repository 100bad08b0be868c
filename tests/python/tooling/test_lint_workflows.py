"""The GitHub workflows are valid and do what review relies on.

Validation uses check-jsonschema's built-in GitHub workflow schema (shipped in the
package, so it runs offline), the same check `make lint` and pre-commit run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
PULL_REQUEST = REPO / ".github" / "workflows" / "pull-request.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    """Run check-jsonschema with the built-in workflow schema; no network needed."""
    return subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def load(path: Path) -> dict[str, Any]:
    """Parse a workflow; PyYAML reads the bare key `on` as True, so map it back."""
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_workflows_exist() -> None:
    assert PULL_REQUEST in WORKFLOWS


def test_workflows_validate_against_github_schema() -> None:
    proc = check_jsonschema(*WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok -- validation done" in proc.stdout


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The check can fail: a job without `runs-on` and a misspelt trigger are errors."""
    broken = load(PULL_REQUEST)
    del broken["jobs"]["test"]["runs-on"]
    broken["on"] = {"pull_requests": {}}
    target = tmp_path / "broken.yml"
    target.write_text(yaml.safe_dump(broken, sort_keys=False))
    proc = check_jsonschema(target)
    assert proc.returncode != 0
    assert "broken.yml" in proc.stdout + proc.stderr


def test_pull_request_workflow_reviews_sql_tests_and_builds_docs() -> None:
    workflow = load(PULL_REQUEST)
    assert "pull_request" in workflow["on"]
    runs = "\n".join(step.get("run", "") for step in steps(workflow))
    # sqlfluff on the changed models only, reported as annotations on the diff.
    assert "git diff --name-only" in runs and "github.event.pull_request.base.sha" in str(workflow)
    assert "sqlfluff lint" in runs
    assert "--format github-annotation-native" in runs
    # The README's test command.
    assert re.search(r"^make test$", runs, re.MULTILINE)
    # The dbt docs site, on the local target, uploaded as an artifact.
    assert "dbt docs generate --target local" in runs
    uploads = [
        s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact")
    ]
    assert uploads and "target/index.html" in uploads[0]["with"]["path"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commit_shas(workflow: Path) -> None:
    used = [s["uses"] for s in steps(load(workflow)) if "uses" in s]
    assert used
    assert [u for u in used if not PINNED.match(u)] == []
