"""The Lambda zip and the API image hold only the layers they run, and those suffice.

The paths are read from deploy/package_lambdas.sh and deploy/dockerfile-api, copied
into an empty folder, and the entry points are imported from there alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
#: Modules neither artifact may carry: the dev tools and the top layer.
NOT_SHIPPED = ("weblogs.cli", "weblogs.simulator", "weblogs.analytics")


def lambda_paths() -> list[str]:
    script = (REPO / "deploy" / "package_lambdas.sh").read_text(encoding="utf-8")
    (paths,) = re.findall(r"^CODE_PATHS=\(([^)]*)\)", script, re.MULTILINE)
    return paths.split()


def image_paths() -> list[str]:
    text = (REPO / "deploy" / "dockerfile-api").read_text(encoding="utf-8")
    sources = re.findall(r"^COPY (?:--chown=\S+ )?(\S+) /app/\S*$", text, re.MULTILINE)
    return [source.rstrip("/") for source in sources]


def stage(paths: list[str], target: Path) -> Path:
    for path in paths:
        source, dest = REPO / path, target / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, dest)
    return target


def imports_from(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` with `root` first on the path and the repository not importable."""
    prelude = (
        f"import sys; sys.path.insert(0, {str(root)!r}); "
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(root)},
    )


@pytest.mark.parametrize(
    ("paths", "entry"),
    [
        (lambda_paths, "import lambdas.transformation, lambdas.s3toathena"),
        (image_paths, "import ingestion.main"),
    ],
    ids=["lambda-zip", "api-image"],
)
def test_artifact_holds_what_it_runs_and_nothing_above(
    tmp_path: Path, paths: object, entry: str
) -> None:
    listed = paths()  # type: ignore[operator]
    assert not any(
        p.startswith(("weblogs/cli", "weblogs/simulator", "weblogs/analytics")) for p in listed
    )
    root = stage([p for p in listed if not p.startswith("deploy/")], tmp_path)
    check = (
        f"{entry}; import weblogs; assert weblogs.__file__.startswith({str(root)!r}), weblogs.__file__; "
        "import importlib.util as u; "
        f"missing = [m for m in {NOT_SHIPPED!r} if u.find_spec(m) is None]; "
        f"assert missing == list({NOT_SHIPPED!r}), missing"
    )
    done = imports_from(root, check)
    assert done.returncode == 0, done.stderr


def test_the_check_sees_a_missing_layer(tmp_path: Path) -> None:
    root = stage(["weblogs/__init__.py", "weblogs/core", "lambdas"], tmp_path)
    done = imports_from(root, "import lambdas.transformation")
    assert done.returncode != 0 and "weblogs.adapters" in done.stderr
