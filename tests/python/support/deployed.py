"""The dbt image as deployed, without Docker: its files, its virtualenv, its task environments.

- `image_tree` copies only what deploy/dockerfile-dbt COPYs, to where it COPYs it
  (under a temporary root standing for `/`), and returns the image's ENV,
  WORKDIR, ENTRYPOINT and CMD with `/app` and `/tmp` mapped into that root.
- `image_venv` is a fresh virtualenv built from deploy/requirements-dbt.txt as the
  Dockerfile builds it (`--no-deps --only-binary=:all: --require-hashes`), cached
  under ~/.cache/weblogs/ keyed by the file's hash, so CI pays for it once.
- `task_container` reads a container's command and environment from
  deploy/template.yaml (cfn-lint's decoder), resolving `!Ref`/`!Sub` with the
  template's defaults and the given region and account.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "deploy" / "dockerfile-dbt"
REQUIREMENTS = REPO / "deploy" / "requirements-dbt.txt"
TEMPLATE = REPO / "deploy" / "template.yaml"
CACHE = Path.home() / ".cache" / "weblogs" / "dbt-image-venv"


@dataclass(frozen=True)
class Image:
    """The image's file system root on this machine and how it starts."""

    root: Path
    workdir: Path
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _inside(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def image_tree(root: Path) -> Image:
    """Copy what the Dockerfile copies (the requirements file excepted: pip consumes it)."""
    env: dict[str, str] = {}
    workdir, entrypoint, cmd = "/", [], []
    for keyword, rest in _instructions():
        if keyword == "ENV":
            env |= dict(pair.split("=", 1) for pair in rest.split())
        elif keyword == "WORKDIR":
            workdir = rest
        elif keyword == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif keyword == "CMD":
            cmd = json.loads(rest)
        elif keyword == "COPY":
            *sources, dest = [a for a in rest.split() if not a.startswith("--")]
            if dest.startswith("/tmp/"):
                continue
            for source in sources:
                matches = sorted(REPO.glob(source.rstrip("/")))
                assert matches, source
                for match in matches:
                    target = _inside(root, dest)
                    if dest.endswith("/") and (len(matches) > 1 or match.is_file()):
                        target = target / match.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if match.is_dir():
                        shutil.copytree(match, target, ignore=shutil.ignore_patterns("__pycache__"))
                    else:
                        shutil.copy(match, target)
    mapped = {k: _map_paths(v, root) for k, v in env.items()}
    return Image(root, _inside(root, workdir), mapped, entrypoint, cmd)


def _map_paths(value: str, root: Path) -> str:
    for prefix in ("/app", "/tmp"):
        if value == prefix or value.startswith(prefix + "/"):
            return str(root) + value
    return value


def image_venv() -> Path:
    """The image's Python environment: exactly deploy/requirements-dbt.txt, hash-checked."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    venv = CACHE / f"py{sys.version_info[0]}{sys.version_info[1]}-{digest}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                 "--disable-pip-version-check", "--no-deps", "--only-binary=:all:",
                 "--require-hashes", "--index-url", "https://pypi.org/simple/",
                 "-r", str(REQUIREMENTS)],
                check=True,
            )  # fmt: skip
            (venv / ".complete").write_text(digest)
    return venv


def _resolve(value: Any, template: dict[str, Any], pseudo: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return _ref(value["Ref"], template, pseudo)
    if "Fn::Sub" in value:
        return re.sub(
            r"\$\{([^}]+)\}", lambda m: _ref(m.group(1), template, pseudo), value["Fn::Sub"]
        )
    raise AssertionError(f"unsupported intrinsic in a task environment: {value}")


def _ref(name: str, template: dict[str, Any], pseudo: Mapping[str, str]) -> str:
    if name in pseudo:
        return pseudo[name]
    if name in template.get("Parameters", {}):
        return str(template["Parameters"][name]["Default"])
    resource = template["Resources"][name]
    properties = resource["Properties"]
    if resource["Type"] == "AWS::Athena::WorkGroup":
        return _resolve(properties["Name"], template, pseudo)
    if resource["Type"] == "AWS::Glue::Table":
        return _resolve(properties["TableInput"]["Name"], template, pseudo)
    if resource["Type"] == "AWS::SNS::Topic":
        name = _resolve(properties["TopicName"], template, pseudo)
        return f"arn:aws:sns:{pseudo['AWS::Region']}:{pseudo['AWS::AccountId']}:{name}"
    raise AssertionError(f"unsupported Ref in a task environment: {name}")


def task_container(name: str, region: str, account: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of the task definition's container `name`."""
    from cfnlint.decode import decode  # seconds of imports: only when a test asks

    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws"}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::ECS::TaskDefinition":
            continue
        for container in resource["Properties"]["ContainerDefinitions"]:
            if container["Name"] == name:
                command = [_resolve(v, template, pseudo) for v in container.get("Command", [])]
                env = {
                    e["Name"]: _resolve(e["Value"], template, pseudo)
                    for e in container.get("Environment", [])
                }
                return command, env
    raise AssertionError(f"no container {name} in {TEMPLATE}")


def run_image(
    image: Image, venv: Path, args: list[str], env: Mapping[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """ENTRYPOINT + args in WORKDIR with the venv's python: nothing of the dev tree on the path."""
    entry = [
        str(venv / "bin" / "python") if image.entrypoint[0] == "python" else image.entrypoint[0]
    ]
    base = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for folder in ("dbt/target", "dbt/logs"):
        (image.root / "tmp" / folder).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [*entry, *image.entrypoint[1:], *args],
        cwd=image.workdir,
        env={**base, **image.env, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
