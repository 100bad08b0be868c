"""The consumer's container: Dockerfile lint and hygiene, pinned image requirements, and
the ECS task definition checked against the RegisterTaskDefinition input shape."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
from awsfixtures import MotoServer
from botocore.validate import ParamValidator
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "dockerfile-api"
TASKDEF = REPO / "deploy" / "api_taskdefinition.json"
REQUIREMENTS = REPO / "deploy" / "requirements-api.txt"
API_ENV = {
    "API_URL",
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


def image_pins() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[_name(name)] = version
    return pins


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    proc = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_dockerfile_is_slim_non_root_pinned_and_secret_free() -> None:
    text = DOCKERFILE.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    base = next(line for line in instructions if line.startswith("FROM "))
    assert re.fullmatch(r"FROM python:3\.1[1-9][.\w-]*-slim[\w.-]*", base)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "--no-deps" in text and "requirements-api.txt" in text  # exactly the pinned tree
    assert 'ENTRYPOINT ["python", "-m", "ingestion"]' in text
    assert "STOPSIGNAL SIGTERM" in text
    assert not SECRETS.search(text) and not ACCOUNT_ID.search(text)
    assert not re.search(r"^\s*(ENV|ARG)\s+AWS_", text, re.M)


def test_image_requirements_match_the_lock_and_are_complete() -> None:
    pins = image_pins()
    lock = {}
    for line in (REPO / "requirements-lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            lock[_name(name)] = version
    for name, version in pins.items():
        assert lock.get(name) == version, f"{name}=={version} differs from the lock"
    # The closure of what the consumer needs: nothing missing for --no-deps.
    direct = {"pyarrow", "orjson", "msgspec", "boto3", "requests", "aws-lambda-powertools"}
    direct.add("urllib3")
    needed: set[str] = set()
    todo = list(direct)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for spec in md.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(req.name))
    assert needed == set(pins), needed ^ set(pins)


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
        .replace("<API_URL>", "https://api.example.com/events")
        .replace("<S3_BUCKET>", "weblogs-bucket")
    )
    assert "<" not in text
    ecs = moto_server.client("ecs")
    registered = ecs.register_task_definition(**json.loads(text))["taskDefinition"]
    assert registered["family"] == "weblogs-api" and registered["status"] == "ACTIVE"
    assert registered["containerDefinitions"][0]["stopTimeout"] == 120
