"""Deploy deploy/template.yaml to moto's CloudFormation over HTTP, both partition modes.

cfn-lint checks the template statically; this creates the stacks, so every Ref,
GetAtt, Sub and condition is actually resolved, and the created Lambdas, event
source mapping, ECS task and IAM policies are read back through their own APIs.
(Moto skips resource types it does not model, e.g. Glue and Athena: those are
covered by test_template.py.)
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from awsfixtures import MotoServer

# Moto warns for each resource type it does not model (Glue, Athena, alarms...).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "template.yaml"


def deploy(moto_server: MotoServer, *, projection: str) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    artifacts = f"artifacts-{suffix}"
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=artifacts)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambdas/__init__.py", "")
    for key in ("weblogs/lambda-code.zip", "weblogs/lambda-layer.zip"):
        s3.put_object(Bucket=artifacts, Key=key, Body=buffer.getvalue())
    ec2 = moto_server.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    prefix = f"wl{suffix}"
    secret = moto_server.client("secretsmanager").create_secret(
        Name=f"weblogs/api-url-{suffix}", SecretString="http://127.0.0.1:8080/events?api_key=k"
    )["ARN"]
    account = moto_server.client("sts").get_caller_identity()["Account"]
    registry = f"{account}.dkr.ecr.us-east-1.amazonaws.com"
    params = {
        "Prefix": prefix,
        "KinesisStreamName": f"weblogs_stream_{suffix}",
        "GlueDatabaseName": f"weblogs_{suffix}",
        "AnalyticsDatabaseName": f"weblogs_analytics_{suffix}",
        "ArtifactBucket": artifacts,
        "ApiUrlSecretArn": secret,
        "ContainerImage": f"{registry}/weblogs/api:{suffix}",
        "DbtImage": f"{registry}/weblogs/dbt@sha256:{'0' * 64}",
        "VpcId": vpc,
        "SubnetIds": subnet,
        "PartitionProjection": projection,
    }
    cfn = moto_server.client("cloudformation")
    stack = f"weblogs-{suffix}"
    cfn.create_stack(
        StackName=stack,
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    description = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert description["StackStatus"] == "CREATE_COMPLETE", description.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]}
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    }
    return {
        "prefix": prefix,
        "stack": stack,
        "params": params,
        "outputs": outputs,
        "account": account,
        "physical": physical,
    }


@pytest.fixture(scope="module")
def registration_stack(moto_server: MotoServer) -> dict[str, Any]:
    return deploy(moto_server, projection="false")


@pytest.fixture(scope="module")
def projection_stack(moto_server: MotoServer) -> dict[str, Any]:
    return deploy(moto_server, projection="true")


def test_bucket_name_is_account_and_region_scoped(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    bucket = registration_stack["outputs"]["DataBucketName"]
    assert bucket == f"{registration_stack['prefix']}-{registration_stack['account']}-us-east-1"
    moto_server.client("s3").head_bucket(Bucket=bucket)


def test_lambdas_are_wired_to_their_handlers_and_env(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    lam = moto_server.client("lambda")
    prefix, bucket = registration_stack["prefix"], registration_stack["outputs"]["DataBucketName"]
    registration = lam.get_function_configuration(FunctionName=f"{prefix}-s3toathena")
    assert registration["Handler"] == "lambdas.s3toathena.handler"
    env = registration["Environment"]["Variables"]
    # ATHENA_DATABASE/TABLE/WORKGROUP refer to Glue and Athena resources, which moto's
    # CloudFormation does not model; test_template.py checks those statically.
    assert env["S3_BUCKET"] == bucket and env["REGION"] == "us-east-1"
    assert env["PARTITION_REGISTRATION"] == "glue"
    assert env["ATHENA_OUTPUT"] == f"s3://{bucket}/athena_output/partition_registration/"
    transformation = lam.get_function_configuration(FunctionName=f"{prefix}-transformation")
    assert transformation["Handler"] == "lambdas.transformation.handler"
    assert transformation["Environment"]["Variables"]["S3_BUCKET"] == bucket
    assert (
        transformation["Environment"]["Variables"]["SNS_TOPIC_ARN"]
        == (registration_stack["outputs"]["FailedRecordsTopicArn"])
    )
    policy = json.loads(lam.get_policy(FunctionName=f"{prefix}-s3toathena")["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert json.dumps(statement["Condition"]).count(f"arn:aws:s3:::{bucket}") == 1


def test_kinesis_mapping_as_deployed(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    lam = moto_server.client("lambda")
    prefix = registration_stack["prefix"]
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{prefix}-transformation")[
        "EventSourceMappings"
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 5
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        f":{prefix}-transformation-failures"
    )
    assert mapping["EventSourceArn"].endswith(
        f":stream/{registration_stack['params']['KinesisStreamName']}"
    )


def test_consumer_task_definition_as_deployed(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    ecs = moto_server.client("ecs")
    arn = registration_stack["physical"]["ConsumerTaskDefinition"]
    task = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert task["family"] == "weblogs-api"
    (container,) = task["containerDefinitions"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert container["name"] == "api-container" and container["stopTimeout"] == 120
    assert task["memory"] == "1024"  # moto's CloudFormation drops cpu and networkMode
    if env["S3_BUCKET"] == registration_stack["outputs"]["DataBucketName"]:  # latest revision
        assert env["KINESIS_STREAM_NAME"] == registration_stack["params"]["KinesisStreamName"]
        assert (
            env["FAILED_RECORDS_SNS_ARN"] == registration_stack["outputs"]["FailedRecordsTopicArn"]
        )
    account = registration_stack["account"]
    assert container["image"].startswith(f"{account}.dkr.ecr.us-east-1.amazonaws.com/weblogs/api")


def test_iam_resources_resolve_to_this_stack(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    iam = moto_server.client("iam")
    prefix, bucket = registration_stack["prefix"], registration_stack["outputs"]["DataBucketName"]
    document = str(
        iam.get_role_policy(
            RoleName=f"{prefix}-transformation-us-east-1", PolicyName="transformation"
        )["PolicyDocument"]
    )
    assert f"arn:aws:s3:::{bucket}/events/*" in document
    assert f"arn:aws:s3:::{bucket}/failed_transformation_records/*" in document
    assert "${" not in document and "'*'" not in document and '"*"' not in document


def test_projection_mode_has_no_registration_lambda(
    moto_server: MotoServer, projection_stack: dict[str, Any]
) -> None:
    names = [f["FunctionName"] for f in moto_server.client("lambda").list_functions()["Functions"]]
    prefix = projection_stack["prefix"]
    assert f"{prefix}-transformation" in names
    assert f"{prefix}-s3toathena" not in names
    assert not [name for name in projection_stack["physical"] if name.startswith("Registration")]
    assert "TransformationEventSourceMapping" in projection_stack["physical"]
