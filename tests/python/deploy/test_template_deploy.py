"""Deploy deploy/template.yaml to moto's CloudFormation over HTTP, both partition modes.

cfn-lint checks the template statically; this creates the stacks, so every Ref,
GetAtt, Sub and condition is actually resolved, and the created Lambdas, event
source mapping, ECS tasks, IAM policies, security groups, bucket versioning, the
KMS key, topics and the failed-task rule are read back through their own APIs.
(Moto skips resource types its CloudFormation does not model: Glue, Athena,
CloudWatch alarms, the SNS topic policy and the EventBridge Scheduler schedules;
and it ignores a security group's egress rules and a bucket's versioning and
lifecycle: test_template.py checks those statically.)
"""

from __future__ import annotations

import ast
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
TEMPLATE = Path(__file__).resolve().parents[3] / "deploy" / "template.yaml"


def deploy(moto_server: MotoServer, *, projection: str, **extra: str) -> dict[str, Any]:
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
    # Secrets Manager in one stack, an SSM SecureString in the other: both routes.
    if projection == "false":
        secret = moto_server.client("secretsmanager").create_secret(
            Name=f"weblogs/api-url-{suffix}", SecretString="http://127.0.0.1:8080/events?api_key=k"
        )["ARN"]
    else:
        ssm = moto_server.client("ssm")
        name = f"/weblogs/api-url-{suffix}"
        ssm.put_parameter(Name=name, Type="SecureString", Value="http://127.0.0.1:8080/events")
        secret = ssm.get_parameter(Name=name)["Parameter"]["ARN"]
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
        **extra,
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


def as_document(value: Any) -> dict[str, Any]:
    """Moto hands back a policy given as a template object in its Python repr."""
    return value if isinstance(value, dict) else ast.literal_eval(value)


def role_policy(moto_server: MotoServer, role: str, policy: str) -> dict[str, Any]:
    document = moto_server.client("iam").get_role_policy(RoleName=role, PolicyName=policy)
    return as_document(document["PolicyDocument"])


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    (found,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return found


def test_api_url_reaches_the_consumer_only_as_a_secret(
    moto_server: MotoServer, registration_stack: dict[str, Any], projection_stack: dict[str, Any]
) -> None:
    ecs = moto_server.client("ecs")
    for stack, sid, action in (
        (registration_stack, "ApiUrlSecret", "secretsmanager:GetSecretValue"),
        (projection_stack, "ApiUrlParameter", "ssm:GetParameters"),
    ):
        arn = stack["physical"]["ConsumerTaskDefinition"]
        (container,) = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"][
            "containerDefinitions"
        ]
        secret = stack["params"]["ApiUrlSecretArn"]
        assert container["secrets"] == [{"name": "API_URL", "valueFrom": secret}]
        assert "API_URL" not in {e["name"] for e in container["environment"]}
        assert "api_key" not in json.dumps(container)
        document = role_policy(
            moto_server, f"{stack['prefix']}-api-execution-us-east-1", "pull-and-log"
        )
        granted = statement(document, sid)
        assert (granted["Action"], granted["Resource"]) == (action, secret)
        assert not [
            s
            for s in document["Statement"]
            if s.get("Sid", "").startswith("ApiUrl") and s is not granted
        ]
    # The task role (what the consumer's code runs as) cannot read it.
    task_role = role_policy(
        moto_server, f"{registration_stack['prefix']}-api-task-us-east-1", "api-consumer"
    )
    assert "secretsmanager" not in json.dumps(task_role) and "ssm:" not in json.dumps(task_role)


def test_scheduled_task_definitions_as_deployed(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    ecs = moto_server.client("ecs")
    prefix, bucket = registration_stack["prefix"], registration_stack["outputs"]["DataBucketName"]
    image = registration_stack["params"]["DbtImage"]
    dbt = ecs.describe_task_definition(
        taskDefinition=registration_stack["outputs"]["DbtTaskDefinitionArn"]
    )["taskDefinition"]
    assert dbt["family"] == f"{prefix}-dbt"
    (container,) = dbt["containerDefinitions"]
    assert container["image"] == image and container["command"] == ["models"]
    # WEBLOGS_ATHENA_WORKGROUP names the Athena workgroup, which moto does not model.
    env = {e["name"]: e.get("value") for e in container["environment"]}
    assert env["WEBLOGS_DBT_TARGET"] == "athena"
    assert env["WEBLOGS_ATHENA_S3_STAGING_DIR"] == f"s3://{bucket}/athena_output/"
    assert env["WEBLOGS_ATHENA_S3_DATA_DIR"] == f"s3://{bucket}/dbt/"
    assert env["WEBLOGS_ATHENA_LAKE"] == f"s3://{bucket}"
    assert env["WEBLOGS_ATHENA_SCHEMA"] == registration_stack["params"]["AnalyticsDatabaseName"]
    assert env["WEBLOGS_GLUE_DATABASE"] == registration_stack["params"]["GlueDatabaseName"]
    assert container["logConfiguration"]["options"]["awslogs-group"] == f"/ecs/{prefix}-dbt"
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [
        {"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False}
    ]
    compact = ecs.describe_task_definition(
        taskDefinition=registration_stack["outputs"]["CompactionTaskDefinitionArn"]
    )["taskDefinition"]
    (container,) = compact["containerDefinitions"]
    assert container["image"] == image
    assert container["command"] == ["compact", "--lake", f"s3://{bucket}"]
    assert container["logConfiguration"]["options"]["awslogs-group"] == f"/ecs/{prefix}-compact"
    groups = moto_server.client("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{prefix}-")
    retention = {g["logGroupName"]: g.get("retentionInDays") for g in groups["logGroups"]}
    assert retention == {f"/ecs/{prefix}-{name}": 30 for name in ("api", "dbt", "compact")}


def test_scheduler_roles_run_one_task_and_pass_its_two_roles(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    iam = moto_server.client("iam")
    prefix, physical = registration_stack["prefix"], registration_stack["physical"]
    cluster = moto_server.client("ecs").describe_clusters(clusters=[physical["Cluster"]])
    cluster_arn = cluster["clusters"][0]["clusterArn"]
    queue = moto_server.client("sqs").get_queue_attributes(
        QueueUrl=registration_stack["outputs"]["ScheduleDeadLetterQueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    for name, task, policy in (
        ("dbt", "DbtTaskDefinition", "run-dbt-task"),
        ("compact", "CompactionTaskDefinition", "run-compaction-task"),
    ):
        role = iam.get_role(RoleName=f"{prefix}-{name}-scheduler-us-east-1")["Role"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        document = role_policy(moto_server, role["RoleName"], policy)
        run = statement(document, "RunTheTask")
        assert (run["Action"], run["Resource"]) == ("ecs:RunTask", physical[task])
        assert run["Condition"] == {"ArnEquals": {"ecs:cluster": cluster_arn}}
        passed = statement(document, "PassItsRoles")
        roles = [
            iam.get_role(RoleName=f"{prefix}-{name}-{kind}-us-east-1")["Role"]["Arn"]
            for kind in ("task", "execution")
        ]
        assert passed["Action"] == "iam:PassRole" and sorted(passed["Resource"]) == sorted(roles)
        assert statement(document, "DeadLetters")["Resource"] == queue
        assert len(document["Statement"]) == 3
    attached = iam.list_attached_role_policies(RoleName=f"{prefix}-dbt-task-us-east-1")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [
        registration_stack["outputs"]["DbtRunnerPolicyArn"]
    ]
    compaction = role_policy(moto_server, f"{prefix}-compact-task-us-east-1", "compact-events")
    bucket = registration_stack["outputs"]["DataBucketName"]
    assert statement(compaction, "RewriteEvents")["Resource"] == f"arn:aws:s3:::{bucket}/events/*"


def test_topics_are_encrypted_and_the_alarm_key_serves_cloudwatch_and_eventbridge(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    sns, kms = moto_server.client("sns"), moto_server.client("kms")
    outputs, physical = registration_stack["outputs"], registration_stack["physical"]
    failed = sns.get_topic_attributes(TopicArn=outputs["FailedRecordsTopicArn"])["Attributes"]
    assert failed["KmsMasterKeyId"] == "alias/aws/sns"
    alarms = sns.get_topic_attributes(TopicArn=outputs["AlarmTopicArn"])["Attributes"]
    key_id = physical["AlarmTopicKey"]
    assert alarms["KmsMasterKeyId"] == key_id
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    policy = as_document(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    services = {
        s["Principal"]["Service"]: s for s in policy["Statement"] if "Service" in s["Principal"]
    }
    assert set(services) == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    for granted in services.values():
        assert sorted(granted["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert granted["Condition"] == {
            "StringEquals": {"aws:SourceAccount": registration_stack["account"]}
        }


def test_failed_scheduled_task_rule_as_deployed(
    moto_server: MotoServer, registration_stack: dict[str, Any]
) -> None:
    events = moto_server.client("events")
    prefix, physical = registration_stack["prefix"], registration_stack["physical"]
    rule = events.describe_rule(Name=physical["ScheduledTaskFailedRule"])
    assert rule["State"] == "ENABLED"
    detail = json.loads(rule["EventPattern"])["detail"]
    cluster = moto_server.client("ecs").describe_clusters(clusters=[physical["Cluster"]])
    assert detail["clusterArn"] == [cluster["clusters"][0]["clusterArn"]]
    assert detail["group"] == [f"family:{prefix}-dbt", f"family:{prefix}-compact"]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == registration_stack["outputs"]["AlarmTopicArn"]


def test_events_retention_deploys(moto_server: MotoServer) -> None:
    """EventsRetentionDays set: the conditional lifecycle rules resolve and the stack is
    created (moto ignores the lifecycle itself: test_template.py checks the rules)."""
    stack = deploy(moto_server, projection="true", EventsRetentionDays="400")
    bucket = stack["outputs"]["DataBucketName"]
    moto_server.client("s3").head_bucket(Bucket=bucket)
