"""The images (the consumer's, the dbt run's): Dockerfile lint and hygiene, requirements
pinned and hashed, and the ECS task definition checked against the RegisterTaskDefinition
input shape."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from awsfixtures import MotoServer
from botocore.validate import ParamValidator
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "deploy" / "dockerfile-api"
DBT_DOCKERFILE = REPO / "deploy" / "dockerfile-dbt"
TASKDEF = REPO / "deploy" / "api_taskdefinition.json"
REQUIREMENTS = REPO / "deploy" / "requirements-api.txt"
DBT_REQUIREMENTS = REPO / "deploy" / "requirements-dbt.txt"
# What each image's code imports directly; the requirements file must be its closure.
RUNTIME = {"pyarrow", "orjson", "msgspec", "boto3", "requests", "aws-lambda-powertools", "urllib3"}
IMAGES = {
    "api": (DOCKERFILE, REQUIREMENTS, RUNTIME),
    "dbt": (DBT_DOCKERFILE, DBT_REQUIREMENTS, RUNTIME | {"dbt-core", "dbt-athena", "dbt-trino"}),
}
# The base image: by digest, given literally or through the PYTHON_DIGEST build arg.
BASE = re.compile(r"FROM python:3\.11-slim-bookworm@(sha256:[0-9a-f]{64}|\$\{PYTHON_DIGEST\})")
API_ENV = {
    "KINESIS_STREAM_NAME",
    "S3_BUCKET",
    "FAILED_RECORDS_SNS_ARN",
    "REGION",
    "POLL_INTERVAL",
    "S3_BATCH_SIZE",
    "S3_BATCH_SECONDS",
}
ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
SECRETS = re.compile(r"AKIA[0-9A-Z]{16}|aws_secret_access_key|SECRET_ACCESS_KEY|password", re.I)


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def hashed_pins(path: Path = REQUIREMENTS) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 list) of a `pip --require-hashes` requirements file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip().removesuffix("\\").strip()
        if not line:
            continue
        if line.startswith("--hash="):
            assert current, f"hash before any pin: {raw}"
            algorithm, _, digest = line.removeprefix("--hash=").partition(":")
            assert algorithm == "sha256" and re.fullmatch(r"[0-9a-f]{64}", digest), raw
            pins[current][1].append(digest)
            continue
        name, _, version = line.partition("==")
        assert version and " " not in version, f"not pinned: {raw}"
        current = _name(name)
        pins[current] = (version, [])
    return pins


def image_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    return {name: version for name, (version, _) in hashed_pins(path).items()}


def instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_hadolint_is_clean(image: str) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    dockerfile = IMAGES[image][0]
    proc = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_dockerfile_is_slim_non_root_pinned_and_secret_free(image: str) -> None:
    dockerfile, requirements, _ = IMAGES[image]
    text = dockerfile.read_text()
    lines = instructions(dockerfile)
    (base,) = [line for line in lines if line.startswith("FROM ")]
    assert BASE.fullmatch(base), base
    if "${PYTHON_DIGEST}" in base:
        # Declared without a default: a build without the digest fails, never floats.
        assert lines.index("ARG PYTHON_DIGEST") < lines.index(base)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (install,) = [line for line in lines if "pip install" in line]
    for flag in ("--no-deps", "--require-hashes", "--only-binary=:all:"):
        assert flag in install, flag
    assert f"-r /tmp/{requirements.name}" in install  # exactly the pinned, hashed tree
    assert not SECRETS.search(text) and not ACCOUNT_ID.search(text)
    assert not re.search(r"^\s*(ENV|ARG)\s+AWS_", text, re.M)
    assert not re.search(r":latest\b", text)


def test_dockerfile_entry_points() -> None:
    api = instructions(DOCKERFILE)
    assert 'ENTRYPOINT ["python", "-m", "ingestion"]' in api
    assert "STOPSIGNAL SIGTERM" in api
    dbt = instructions(DBT_DOCKERFILE)
    assert 'ENTRYPOINT ["python", "-m", "weblogs"]' in dbt
    assert 'CMD ["models"]' in dbt  # the scheduled run; the compaction task passes `compact`
    env = " ".join(line for line in dbt if line.startswith("ENV "))
    assert "WEBLOGS_DBT_TARGET=athena" in env and "DBT_PROFILES_DIR=/app/profiles" in env
    # Everything dbt writes goes to /tmp: the task's root file system is read-only.
    assert "DBT_TARGET_PATH=/tmp/" in env and "DBT_LOG_PATH=/tmp/" in env and "HOME=/tmp" in env


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_every_copied_path_exists(image: str) -> None:
    copies = [
        line.split()[1:] for line in instructions(IMAGES[image][0]) if line.startswith("COPY ")
    ]
    assert copies
    for args in copies:
        sources = [a for a in args[:-1] if not a.startswith("--")]
        for source in sources:
            assert list(REPO.glob(source.rstrip("/"))), f"COPY {source}: nothing in the repository"
    if image == "dbt":
        copied = {a.rstrip("/") for args in copies for a in args[:-1]}
        assert {
            "dbt_project.yml",
            "models",
            "macros",
            "tests/*.sql",
            "weblogs",
            "ingestion",
        } <= copied
        assert "profiles.yml.example" in copied


def closure(direct: set[str]) -> set[str]:
    """The distributions `direct` needs, following the extras a requirement asks for
    (dbt-athena wants boto3-stubs[athena,glue,...], dbt-core mashumaro[msgpack])."""
    needed: set[tuple[str, str]] = set()
    todo = [(name, "") for name in direct]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in needed:
            continue
        needed.add((name, extra))
        for spec in md.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo.append((_name(req.name), ""))
                todo += [(_name(req.name), wanted) for wanted in req.extras]
    return {name for name, _ in needed}


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_image_requirements_match_the_lock_are_hashed_and_complete(image: str) -> None:
    _, requirements, direct = IMAGES[image]
    hashed = hashed_pins(requirements)
    for name, (_, digests) in hashed.items():
        assert digests, f"{requirements.name}: {name} has no --hash"
        assert len(set(digests)) == len(digests), name
    pins = image_pins(requirements)
    lock = {}
    for line in (REPO / "requirements-lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            lock[_name(name)] = version
    for name, version in pins.items():
        assert lock.get(name) == version, f"{name}=={version} differs from the lock"
    # The closure of what the image's code needs: nothing missing for --no-deps.
    needed = closure(direct)
    assert needed == set(pins), needed ^ set(pins)


@pytest.mark.slow  # it imports dbt and its Athena adapter in a fresh interpreter
def test_the_dbt_image_runs_what_it_has() -> None:
    """The weblogs command line and dbt with the Athena and Trino adapters import from the dbt pins."""
    # Each imported module file -> the distributions that ship it (namespace packages
    # such as dbt/__init__.py are shipped by every dbt adapter, dbt-duckdb included).
    code = (
        "import sys, os, json, importlib.metadata as md\n"
        "from weblogs.cli import build_parser\n"
        "build_parser()\n"
        "import dbt.cli.main, dbt.adapters.athena, dbt.adapters.trino, trino.dbapi\n"
        "owners = {}\n"
        "for d in md.distributions():\n"
        "    for f in d.files or []:\n"
        "        owners.setdefault(os.path.realpath(d.locate_file(f)), set()).add(d.metadata['Name'])\n"
        "files = {os.path.realpath(m.__file__) for m in list(sys.modules.values())"
        " if getattr(m, '__file__', None)}\n"
        "print(json.dumps(sorted({tuple(sorted(owners[f])) for f in files if f in owners})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    # Imported when present in the dev venv, optional for their importers:
    # requests prefers charset-normalizer, jsonschema's format checkers skip these.
    optional = {"chardet", "setuptools", "weblogs", "jsonpointer", "rfc3339-validator"}
    pins = set(image_pins(DBT_REQUIREMENTS))
    missing = [
        owners
        for owners in json.loads(proc.stdout)
        if not {_name(o) for o in owners} & (pins | optional)
    ]
    assert not missing, missing


def test_the_consumer_imports_only_what_the_image_has() -> None:
    """Import the consumer's modules in a fresh interpreter and map modules to packages."""
    code = (
        "import sys, json, importlib.metadata as md\n"
        "import ingestion.consumer, ingestion.backends, ingestion.config\n"
        "import boto3\n"
        "s = boto3.session.Session(region_name='us-east-1')\n"
        "[s.client(n) for n in ('kinesis', 's3', 'sns')]\n"
        "from aws_lambda_powertools import Metrics\n"
        "m = md.packages_distributions()\n"
        "print(json.dumps(sorted({d for t in {n.split('.')[0] for n in sys.modules}"
        " for d in m.get(t, [])})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    used = {_name(d) for d in json.loads(proc.stdout)}
    # Present in the dev venv and picked up opportunistically, not needed in the image:
    # requests prefers charset-normalizer (in the image) over chardet.
    optional = {"chardet", "setuptools", "weblogs"}
    assert used - optional <= set(image_pins()), used - optional - set(image_pins())


def load_taskdef() -> dict[str, Any]:
    return json.loads(TASKDEF.read_text())


def test_task_definition_matches_the_register_task_definition_shape() -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(load_taskdef(), shape)
    assert not report.has_errors(), report.generate_report()


def test_task_definition_settings() -> None:
    taskdef = load_taskdef()
    text = TASKDEF.read_text()
    assert not ACCOUNT_ID.search(text) and "<ACCOUNT_ID>" in text
    assert not SECRETS.search(text)
    assert taskdef["family"] == "weblogs-api" and taskdef["networkMode"] == "awsvpc"
    assert taskdef["requiresCompatibilities"] == ["FARGATE"]
    assert (taskdef["cpu"], taskdef["memory"]) == ("512", "1024")
    (container,) = taskdef["containerDefinitions"]
    assert container["name"] == "api-container" and container["essential"]
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert set(env) >= API_ENV
    # The API URL (and any key in it) comes from Secrets Manager or SSM, never in clear.
    assert container["secrets"] == [{"name": "API_URL", "valueFrom": "<API_URL_SECRET_ARN>"}]
    assert not {name for name in env if re.search(r"URL|KEY|TOKEN|SECRET", name, re.I)}
    # Fargate allows at most 120 s; the consumer needs its flush budget plus one request.
    assert container["stopTimeout"] <= 120
    assert (
        container["stopTimeout"] >= float(env["SHUTDOWN_SECONDS"]) + float(env["API_TIMEOUT"]) + 10
    )
    assert container["user"].split(":")[0] not in ("root", "0")


def test_task_definition_registers_on_ecs(moto_server: MotoServer) -> None:
    """With the placeholders filled in, ECS (moto over HTTP) accepts it as is."""
    text = (
        TASKDEF.read_text()
        .replace("<ACCOUNT_ID>", "123456789012")
        .replace("<REGION>", "us-east-1")
        .replace("<IMAGE_TAG>", "test")
        .replace(
            "<API_URL_SECRET_ARN>",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-Ab12Cd",
        )
        .replace("<S3_BUCKET>", "weblogs-bucket")
    )
    assert "<" not in text
    ecs = moto_server.client("ecs")
    registered = ecs.register_task_definition(**json.loads(text))["taskDefinition"]
    assert registered["family"] == "weblogs-api" and registered["status"] == "ACTIVE"
    assert registered["containerDefinitions"][0]["stopTimeout"] == 120
