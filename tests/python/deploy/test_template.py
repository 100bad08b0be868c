"""deploy/template.yaml: cfn-lint clean, least privilege, and in step with the code.

The template is parsed with cfn-lint's own decoder (it understands the short
`!Ref`/`!Sub` tags) and checked against the modules it deploys, so a schema or
env-var change in the code cannot silently drift from the deployment.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from weblogs.core import layout
from weblogs.core.contract import ARROW_SCHEMA, PARTITION_COLUMNS
from weblogs.core.layout import event_key

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "deploy" / "template.yaml"
# Actions IAM cannot scope to a resource; the only ones allowed on "*".
RESOURCE_LESS_ACTIONS = {"ecr:GetAuthorizationToken"}
LAKE_PREFIXES = {*layout.PREFIXES, *layout.DEPLOY_PREFIXES}
GLUE_TYPES = {
    pa.string(): "string",
    pa.bool_(): "boolean",
    pa.timestamp("ms"): "timestamp",
    pa.decimal128(38, 18): "decimal(38,18)",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    # Imported here: cfn-lint pulls in sympy and networkx (seconds), which a worker
    # that never runs this file should not pay for at collection.
    from cfnlint.decode import decode

    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return parsed


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def branches(node: Any) -> Iterator[Any]:
    """Both outcomes of an Fn::If (recursively), or the node itself."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        for branch in node["Fn::If"][1:]:
            yield from branches(branch)
    elif node != {"Ref": "AWS::NoValue"}:
        yield node


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
            assert "ManagedPolicyArns" not in props, f"{name}: managed policies are not reviewed"
        elif res["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            yield name, props["PolicyDocument"]


def allow_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for where, document in policy_documents(template):
        for raw in document["Statement"]:
            for statement in branches(raw):
                assert statement["Effect"] in ("Allow", "Deny"), where
                if statement["Effect"] == "Allow":
                    found.append((where, statement))
    return found


def literal(resource: Any) -> str:
    """The text of a resource ARN as written (the Sub template, or a Ref/GetAtt marker)."""
    if isinstance(resource, str):
        return resource
    if "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return "<ref>"  # !Ref / !GetAtt of a resource of this template: one ARN


@pytest.mark.slow  # runs cfn-lint over the template: a whole tool for seconds
def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_least_privilege_on_every_allow_statement(template: dict[str, Any]) -> None:
    statements = allow_statements(template)
    assert len(statements) >= 20  # the walk really found the policies
    for where, statement in statements:
        assert "NotAction" not in statement and "NotResource" not in statement, where
        actions = as_list(statement["Action"])
        resources_ = [literal(r) for r in as_list(statement["Resource"])]
        for action in actions:
            assert action != "*" and not action.endswith(":*"), f"{where}: wildcard {action}"
            assert "*" not in action, f"{where}: wildcard in {action}"
        if "*" in resources_:
            assert resources_ == ["*"] and set(actions) <= RESOURCE_LESS_ACTIONS, (
                f"{where}: {actions} on '*'"
            )
        for arn in resources_:
            # No service-wide ARNs such as arn:aws:s3:::* or table/*/*.
            assert not re.search(r":::\*|:\*$|/\*/", arn), f"{where}: broad resource {arn}"


def test_s3_object_access_is_scoped_to_lake_prefixes(template: dict[str, Any]) -> None:
    seen: set[str] = set()
    for where, statement in allow_statements(template):
        for arn in map(literal, as_list(statement["Resource"])):
            if ":s3:::" not in arn:
                continue
            bucket_part, _, path = arn.partition(":s3:::")[2].partition("/")
            assert bucket_part == "${Prefix}-${AWS::AccountId}-${AWS::Region}", (where, arn)
            if not path:  # bucket-level (ListBucket): must be narrowed by prefix
                assert set(as_list(statement["Action"])) <= {
                    "s3:ListBucket",
                    "s3:GetBucketLocation",
                }
                (operator,) = statement["Condition"]
                assert operator in ("StringLike", "StringLikeIfExists"), where
                prefixes = statement["Condition"][operator]["s3:prefix"]
                assert {p.split("/")[0] for p in as_list(prefixes)} <= LAKE_PREFIXES, where
                continue
            prefix = path.split("/")[0]
            assert prefix in LAKE_PREFIXES and path == f"{prefix}/*", (where, arn)
            seen.add(prefix)
    assert {
        layout.EVENTS,
        layout.RAW,
        layout.FAILED_RECORDS,
        layout.FAILED_TRANSFORMATION_RECORDS,
    } <= seen


def test_events_table_columns_come_from_the_contract(template: dict[str, Any]) -> None:
    table = template["Resources"]["EventsTable"]["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [(f.name, GLUE_TYPES[f.type]) for f in ARROW_SCHEMA]
    keys = [(c["Name"], c["Type"]) for c in table["PartitionKeys"]]
    assert keys == [(name, "string") for name in PARTITION_COLUMNS]


def test_partition_projection_matches_the_lake_layout(template: dict[str, Any]) -> None:
    params = template["Resources"]["EventsTable"]["Properties"]["TableInput"]["Parameters"]
    condition, projected, plain = params["Fn::If"]
    assert condition == "UseProjection" and "projection.enabled" not in plain
    assert projected["projection.enabled"] == "true"
    location = projected["storage.location.template"]["Fn::Sub"]
    bucket = "s3://${Prefix}-${AWS::AccountId}-${AWS::Region}/"
    expected = event_key(("${!year}", "${!month}", "${!day}", "${!hour}"), "x")
    assert location == bucket + expected.rsplit("/", 1)[0] + "/"
    assert [projected[f"projection.{k}.digits"] for k in PARTITION_COLUMNS] == ["4", "2", "2", "2"]
    # With projection on, nothing registers partitions.
    registration = {
        "RegistrationFunction",
        "RegistrationRole",
        "RegistrationInvokePermission",
        "RegistrationInvokeConfig",
        "RegistrationLogGroup",
        "RegistrationFailureQueue",
        "RegistrationFailuresAlarm",
    }
    for name in registration:
        assert template["Resources"][name].get("Condition") == "UseRegistration", name
    notification = template["Resources"]["DataBucket"]["Properties"]["NotificationConfiguration"]
    assert notification["Fn::If"][0] == "UseRegistration"
    assert notification["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    lambda_config = notification["Fn::If"][1]["LambdaConfigurations"][0]
    rules = {r["Name"]: r["Value"] for r in lambda_config["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": f"{layout.EVENTS}/", "suffix": ".parquet"}


def test_no_circular_bucket_lambda_dependency(template: dict[str, Any]) -> None:
    """The permission names the bucket by its computed name, never by !Ref."""
    res = template["Resources"]
    permission = res["RegistrationInvokePermission"]["Properties"]
    assert permission["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${Prefix}-${AWS::AccountId}-${AWS::Region}"
    }
    assert res["DataBucket"]["Properties"]["BucketName"] == {
        "Fn::Sub": "${Prefix}-${AWS::AccountId}-${AWS::Region}"
    }
    assert "DataBucket" not in str(res["RegistrationFunction"]) + str(res["RegistrationRole"])
    assert res["DataBucket"]["DependsOn"] == "RegistrationPermissionDependency"


def test_bucket_is_private_encrypted_tls_only_with_lifecycle(template: dict[str, Any]) -> None:
    props = template["Resources"]["DataBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    prefixes = {r.get("Prefix") for r in props["LifecycleConfiguration"]["Rules"]}
    expiring = (*layout.FAILED_STORES, layout.RAW, layout.EXTRA_COLUMNS, layout.ATHENA_OUTPUT)
    assert {f"{prefix}/" for prefix in expiring} <= prefixes
    # The lake itself expires only when EventsRetentionDays is set (a conditional rule).
    assert f"{layout.EVENTS}/" not in prefixes
    assert f"{layout.CRM}/" not in prefixes
    (statement,) = template["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_kinesis_mapping_reports_item_failures_and_bounds_retries(template: dict[str, Any]) -> None:
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 <= props["MaximumRetryAttempts"] <= 10
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["TransformationFailureQueue", "Arn"]
    }


def test_lambdas_point_at_real_handlers_with_their_env(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Lambda::Function")
    handlers = {name: f["Properties"]["Handler"] for name, f in functions.items()}
    assert handlers == {
        "TransformationFunction": "lambdas.transformation.handler",
        "RegistrationFunction": "lambdas.s3toathena.handler",
    }
    for handler in handlers.values():
        module, attr = handler.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), attr))
    registration_env = functions["RegistrationFunction"]["Properties"]["Environment"]["Variables"]
    assert {"ATHENA_DATABASE", "ATHENA_TABLE", "S3_BUCKET", "ATHENA_OUTPUT", "REGION"} <= set(
        registration_env
    )
    assert registration_env["PARTITION_REGISTRATION"] == {"Ref": "PartitionRegistration"}
    transformation_env = functions["TransformationFunction"]["Properties"]["Environment"]
    assert {"S3_BUCKET", "SNS_TOPIC_ARN", "REGION"} <= set(transformation_env["Variables"])


def test_every_log_group_has_retention_and_every_lambda_uses_one(template: dict[str, Any]) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) == 5  # two Lambdas, the consumer, the dbt run, the compaction
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    for name, function in resources(template, "AWS::Lambda::Function").items():
        assert function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups, name


def test_consumer_task_matches_the_original_definition(template: dict[str, Any]) -> None:
    task = template["Resources"]["ConsumerTaskDefinition"]["Properties"]
    assert (task["Family"], task["Cpu"], task["Memory"]) == ("weblogs-api", "512", "1024")
    assert task["RequiresCompatibilities"] == ["FARGATE"] and task["NetworkMode"] == "awsvpc"
    (container,) = task["ContainerDefinitions"]
    assert container["Name"] == "api-container"
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    # The consumer's own flush deadline must end before ECS's SIGKILL.
    assert int(env["SHUTDOWN_SECONDS"]) + 15 <= container["StopTimeout"] <= 120
    assert container["ReadonlyRootFilesystem"] is True
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert "API_URL" in {s["Name"] for s in container["Secrets"]}
    assert set(env) >= {
        "KINESIS_STREAM_NAME",
        "S3_BUCKET",
        "FAILED_RECORDS_SNS_ARN",
        "REGION",
        "POLL_INTERVAL",
        "S3_BATCH_SIZE",
        "S3_BATCH_SECONDS",
    }
    service = template["Resources"]["ConsumerService"]["Properties"]
    assert service["LaunchType"] == "FARGATE"
    assert service["DeploymentConfiguration"]["MaximumPercent"] == 100  # never two pollers


def test_workgroup_caps_bytes_scanned(template: dict[str, Any]) -> None:
    config = template["Resources"]["Workgroup"]["Properties"]["WorkGroupConfiguration"]
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "BytesScannedCutoffPerQuery"}
    assert config["EnforceWorkGroupConfiguration"] is True
    assert template["Parameters"]["BytesScannedCutoffPerQuery"]["MinValue"] == 10_000_000


def test_crm_tables_follow_the_spec(template: dict[str, Any]) -> None:
    res = template["Resources"]
    columns = {
        res[name]["Properties"]["TableInput"]["Name"]: [
            c["Name"] for c in res[name]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
        ]
        for name in ("CustomersTable", "RatingsTable")
    }
    assert columns == {
        "customers": ["user_id", "customer_id", "loyalty_tier", "is_loyalty_member", "signup_date"],
        "ratings": ["user_id", "rated_at", "rating"],
    }


def test_no_account_ids_or_secrets_in_the_template() -> None:
    text = TEMPLATE.read_text()
    assert not re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", text)
    assert "AKIA" not in text and "aws_secret" not in text.lower()


def test_operations_doc_covers_every_parameter_and_alarm(template: dict[str, Any]) -> None:
    """The deploy guide cannot silently fall behind the template."""
    doc = (REPO / "docs" / "operations.md").read_text()
    missing = [name for name in template["Parameters"] if name not in doc]
    missing += [name for name in resources(template, "AWS::CloudWatch::Alarm") if name not in doc]
    assert not missing, f"not documented in docs/operations.md: {missing}"


def test_template_task_agrees_with_the_standalone_task_definition(template: dict[str, Any]) -> None:
    """deploy/api_taskdefinition.json (manual route) and the template run the same container."""
    standalone = json.loads((REPO / "deploy" / "api_taskdefinition.json").read_text())
    (theirs,) = standalone["containerDefinitions"]
    task = template["Resources"]["ConsumerTaskDefinition"]["Properties"]
    (ours,) = task["ContainerDefinitions"]
    assert (task["Family"], task["Cpu"], task["Memory"]) == (
        standalone["family"],
        standalone["cpu"],
        standalone["memory"],
    )
    assert ours["Name"] == theirs["name"] and ours["StopTimeout"] == theirs["stopTimeout"]
    assert {e["Name"] for e in ours["Environment"]} == {e["name"] for e in theirs["environment"]}
    assert {e["Name"] for e in ours["Secrets"]} == {e["name"] for e in theirs["secrets"]}
    assert ours["ReadonlyRootFilesystem"] == theirs["readonlyRootFilesystem"]


# ---------------------------------------------------------------- hardening (issue 14)
IMAGE_PARAMETERS = ("ContainerImage", "DbtImage")
TASK_DEFINITIONS = ("ConsumerTaskDefinition", "DbtTaskDefinition", "CompactionTaskDefinition")
ACCOUNT = "0" * 12  # a placeholder account, built so no account id is written down
SECRET_NAMES = re.compile(r"API_URL|API_KEY|TOKEN|SECRET|PASSWORD", re.I)


def image_pattern(template: dict[str, Any], name: str) -> re.Pattern[str]:
    return re.compile(template["Parameters"][name]["AllowedPattern"])


@pytest.mark.parametrize("name", IMAGE_PARAMETERS)
def test_image_parameters_require_a_tag_or_digest_never_latest(
    template: dict[str, Any], name: str
) -> None:
    param = template["Parameters"][name]
    assert "Default" not in param  # no image is deployed by accident
    pattern = image_pattern(template, name)
    repo = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/weblogs/api"
    for good in (f"{repo}:v1.2.3", f"{repo}:3f2a9c1", f"{repo}@sha256:{'a' * 64}"):
        assert pattern.fullmatch(good), good
    for bad in (f"{repo}:latest", repo, f"{repo}:", f"{repo}@sha256:abc", f"{repo}:latest@x"):
        assert not pattern.fullmatch(bad), bad
    assert not re.search(r":latest\b", TEMPLATE.read_text())


@pytest.mark.parametrize("name", TASK_DEFINITIONS)
def test_every_task_image_comes_from_an_image_parameter(
    template: dict[str, Any], name: str
) -> None:
    (container,) = template["Resources"][name]["Properties"]["ContainerDefinitions"]
    assert container["Image"]["Ref"] in IMAGE_PARAMETERS, name


def test_api_url_reaches_the_consumer_only_as_a_task_secret(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert "ApiUrl" not in params
    secret = params["ApiUrlSecretArn"]
    pattern = re.compile(secret["AllowedPattern"])
    assert pattern.fullmatch(
        f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:weblogs-api-AbCdEf"
    )
    assert pattern.fullmatch(f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/weblogs/api-url")
    assert not pattern.fullmatch("https://api.example.com/events?api_key=x")
    for name in TASK_DEFINITIONS:
        (container,) = template["Resources"][name]["Properties"]["ContainerDefinitions"]
        leaked = [
            e["Name"] for e in container.get("Environment", []) if SECRET_NAMES.search(e["Name"])
        ]
        assert not leaked, (name, leaked)
    task = template["Resources"]["ConsumerTaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    assert container["Secrets"] == [{"Name": "API_URL", "ValueFrom": {"Ref": "ApiUrlSecretArn"}}]
    # Only the consumer's execution role may read the secret, and only that one.
    readers = [
        (where, statement)
        for where, statement in allow_statements(template)
        if {a.split(":")[0] for a in as_list(statement["Action"])}
        & {"secretsmanager", "ssm", "kms"}
        # The dbt task's report encrypts for the alarm topic's key (test_dbt_task_role_...).
        and statement["Resource"] != {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}
    ]
    assert readers, "the execution role cannot read the secret"
    for where, statement in readers:
        assert where.startswith("ConsumerExecutionRole/"), where
        assert as_list(statement["Resource"]) == [{"Ref": "ApiUrlSecretArn"}], where
        assert set(as_list(statement["Action"])) <= {
            "secretsmanager:GetSecretValue",
            "ssm:GetParameters",
        }, where


def test_tasks_may_only_leave_on_https(template: dict[str, Any]) -> None:
    groups = resources(template, "AWS::EC2::SecurityGroup")
    assert groups
    for name, group in groups.items():
        props = group["Properties"]
        assert "SecurityGroupIngress" not in props, name  # nothing calls the tasks
        rules = props["SecurityGroupEgress"]
        assert rules, name  # an empty list would keep the default allow-all
        for rule in rules:
            assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443), (
                name,
                rule,
            )
    assert not resources(template, "AWS::EC2::SecurityGroupEgress")
    for name, res in template["Resources"].items():
        network = json.dumps(res.get("Properties", {}))
        if "AwsvpcConfiguration" in network:
            assert '"AssignPublicIp": {"Ref": "AssignPublicIp"}' in network, name
    assert template["Parameters"]["AssignPublicIp"]["Default"] == "DISABLED"


def test_lake_bucket_is_versioned_and_noncurrent_versions_expire(template: dict[str, Any]) -> None:
    props = template["Resources"]["DataBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = [
        r for r in props["LifecycleConfiguration"]["Rules"] if "NoncurrentVersionExpiration" in r
    ]
    (rule,) = rules
    assert rule["Status"] == "Enabled"
    assert "Prefix" not in rule and "Filter" not in rule  # every prefix, events/ included
    assert rule["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "NoncurrentVersionRetentionDays"}
    }
    assert template["Parameters"]["NoncurrentVersionRetentionDays"]["MinValue"] >= 1


def key_policy_allows(key: dict[str, Any], service: str) -> set[str]:
    actions: set[str] = set()
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        if statement["Effect"] == "Allow" and statement["Principal"] == {"Service": service}:
            assert "Condition" in statement, f"{service} is not scoped to this account"
            actions |= set(as_list(statement["Action"]))
    return actions


def test_every_topic_is_encrypted_and_its_publishers_may_use_the_key(
    template: dict[str, Any],
) -> None:
    topics = resources(template, "AWS::SNS::Topic")
    assert set(topics) == {"FailedRecordsTopic", "AlarmTopic"}
    for name, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId"), f"{name} is not encrypted"
    # CloudWatch and EventBridge cannot use the AWS-managed SNS key: a key of the stack.
    key_ref = topics["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    key = template["Resources"][key_ref["Ref"]]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
        assert key_policy_allows(key, service) == {"kms:Decrypt", "kms:GenerateDataKey*"}, service
    # The failed-records topic's publishers are this account's roles, which the
    # AWS-managed key serves through SNS.
    assert topics["FailedRecordsTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"


# ---------------------------------------------------------------- scheduled tasks (issue 17)
def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every Allow statement that reaches a role: inline, or a policy of the stack attached to it."""
    found = [s for where, s in allow_statements(template) if where.startswith(f"{role}/")]
    for name, res in template["Resources"].items():
        if res["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and {"Ref": role} in res[
            "Properties"
        ].get("Roles", []):
            found += [s for where, s in allow_statements(template) if where == name]
    return found


def task(template: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    props = template["Resources"][name]["Properties"]
    (container,) = props["ContainerDefinitions"]
    return props, container


def trusted_service(template: dict[str, Any], role: str) -> str:
    (statement,) = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }
    return statement["Principal"]["Service"]


def s3_paths(statement: dict[str, Any]) -> set[str]:
    return {
        literal(r).partition(":s3:::")[2].partition("/")[2] for r in as_list(statement["Resource"])
    }


def test_dbt_task_runs_the_scheduled_models_on_athena(template: dict[str, Any]) -> None:
    props, container = task(template, "DbtTaskDefinition")
    assert props["Family"] == {"Fn::Sub": "${Prefix}-dbt"}
    assert props["RequiresCompatibilities"] == ["FARGATE"] and props["NetworkMode"] == "awsvpc"
    assert props["TaskRoleArn"] == {"Fn::GetAtt": ["DbtTaskRole", "Arn"]}
    assert props["ExecutionRoleArn"] == {"Fn::GetAtt": ["DbtExecutionRole", "Arn"]}
    assert container["Image"] == {"Ref": "DbtImage"} and container["Command"] == ["models"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["WEBLOGS_DBT_TARGET"] == "athena"
    assert env["WEBLOGS_ATHENA_WORKGROUP"] == {"Ref": "Workgroup"}
    assert env["WEBLOGS_ATHENA_SCHEMA"] == {"Ref": "AnalyticsDatabaseName"}
    assert env["WEBLOGS_GLUE_DATABASE"] == {"Ref": "GlueDatabaseName"}
    bucket = "s3://${Prefix}-${AWS::AccountId}-${AWS::Region}"
    assert env["WEBLOGS_ATHENA_S3_STAGING_DIR"] == {"Fn::Sub": f"{bucket}/athena_output/"}
    assert env["WEBLOGS_ATHENA_S3_DATA_DIR"] == {"Fn::Sub": f"{bucket}/dbt/"}
    # The scheduled run lists the lake bucket for vanished arrivals manifests.
    assert env["WEBLOGS_ATHENA_LAKE"] == {"Fn::Sub": bucket}
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "DbtLogGroup"}


def test_compaction_task_runs_weblogs_compact_with_the_dbt_image(template: dict[str, Any]) -> None:
    props, container = task(template, "CompactionTaskDefinition")
    assert props["Family"] == {"Fn::Sub": "${Prefix}-compact"}
    assert props["TaskRoleArn"] == {"Fn::GetAtt": ["CompactionTaskRole", "Arn"]}
    assert props["ExecutionRoleArn"] == {"Fn::GetAtt": ["CompactionExecutionRole", "Arn"]}
    assert container["Image"] == {"Ref": "DbtImage"}
    assert container["Command"] == [
        "compact",
        "--lake",
        {"Fn::Sub": "s3://${Prefix}-${AWS::AccountId}-${AWS::Region}"},
    ]
    group = container["LogConfiguration"]["Options"]["awslogs-group"]
    assert group == {"Ref": "CompactionLogGroup"}


@pytest.mark.parametrize("name", TASK_DEFINITIONS)
def test_every_task_has_a_read_only_root_and_a_scratch_volume_only_if_needed(
    template: dict[str, Any], name: str
) -> None:
    props, container = task(template, name)
    assert container["ReadonlyRootFilesystem"] is True
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    mounts = container.get("MountPoints", [])
    assert {m["ContainerPath"] for m in mounts} <= {"/tmp"}
    assert len(props.get("Volumes", [])) == len(mounts)


@pytest.mark.parametrize(
    ("schedule", "task_name", "role"),
    [
        ("DbtSchedule", "DbtTaskDefinition", "DbtSchedulerRole"),
        ("CompactionSchedule", "CompactionTaskDefinition", "CompactionSchedulerRole"),
    ],
)
def test_schedules_run_their_task_with_a_role_that_can_do_nothing_else(
    template: dict[str, Any], schedule: str, task_name: str, role: str
) -> None:
    props = template["Resources"][schedule]["Properties"]
    assert props["ScheduleExpressionTimezone"] == "UTC"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    ecs = target["EcsParameters"]
    assert ecs["TaskDefinitionArn"] == {"Ref": task_name} and ecs["LaunchType"] == "FARGATE"
    network = ecs["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["SecurityGroups"] == [{"Ref": "ScheduledTaskSecurityGroup"}]
    dead_letters = target["DeadLetterConfig"]["Arn"]
    assert dead_letters == {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}

    assert trusted_service(template, role) == "scheduler.amazonaws.com"
    task_props = template["Resources"][task_name]["Properties"]
    by_action: dict[str, dict[str, Any]] = {}
    for statement in role_statements(template, role):
        for action in as_list(statement["Action"]):
            assert action not in by_action, f"{role}: {action} granted twice"
            by_action[action] = statement
    assert set(by_action) == {"ecs:RunTask", "iam:PassRole", "sqs:SendMessage"}, role
    run = by_action["ecs:RunTask"]
    assert as_list(run["Resource"]) == [{"Ref": task_name}]
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}}
    passed = by_action["iam:PassRole"]
    assert sorted(map(str, as_list(passed["Resource"]))) == sorted(
        map(str, [task_props["TaskRoleArn"], task_props["ExecutionRoleArn"]])
    )
    assert passed["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert as_list(by_action["sqs:SendMessage"]["Resource"]) == [
        {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
    ]


def test_dbt_schedule_is_daily_at_the_time_parameter(template: dict[str, Any]) -> None:
    expression = template["Resources"]["DbtSchedule"]["Properties"]["ScheduleExpression"]
    text = json.dumps(expression)
    assert "DbtRunTimeUtc" in text and "cron(" in text and "* * ? *)" in text
    pattern = re.compile(template["Parameters"]["DbtRunTimeUtc"]["AllowedPattern"])
    assert pattern.fullmatch("01:30") and pattern.fullmatch("23:59") and pattern.fullmatch("00:00")
    for bad in ("24:00", "1:30", "01:60", "01:30 * * ? *) or cron(0", ""):
        assert not pattern.fullmatch(bad), bad
    compaction = template["Resources"]["CompactionSchedule"]["Properties"]
    assert compaction["ScheduleExpression"] == "cron(15 * * * ? *)"  # hourly


def test_dbt_task_role_reads_the_lake_and_writes_only_models_and_results(
    template: dict[str, Any],
) -> None:
    assert trusted_service(template, "DbtTaskRole") == "ecs-tasks.amazonaws.com"
    # Inline: only the daily run's report on the alarm topic (and its key), nothing else.
    (inline,) = template["Resources"]["DbtTaskRole"]["Properties"]["Policies"]
    assert inline["PolicyName"] == "report-to-alarm-topic"
    assert [
        (set(as_list(s["Action"])), s["Resource"]) for s in inline["PolicyDocument"]["Statement"]
    ] == [
        ({"sns:Publish"}, {"Ref": "AlarmTopic"}),
        ({"kms:GenerateDataKey", "kms:Decrypt"}, {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}),
    ]
    statements = [
        s
        for s in role_statements(template, "DbtTaskRole")
        if s not in inline["PolicyDocument"]["Statement"]
    ]
    assert statements, "the dbt runner policy is not attached to the task role"
    services = {a.split(":")[0] for s in statements for a in as_list(s["Action"])}
    assert services == {"athena", "glue", "s3"}
    for statement in statements:
        actions = set(as_list(statement["Action"]))
        if actions & {"s3:PutObject", "s3:DeleteObject"}:
            assert s3_paths(statement) <= {"athena_output/*", "dbt/*"}, statement
        elif any(a.startswith("s3:") for a in actions):
            assert s3_paths(statement) <= {"events/*", "arrivals/*", "crm/*", ""}, statement
        if any(a.startswith("athena:") for a in actions):
            assert all(
                "workgroup/${Workgroup}" in literal(r) or "datacatalog/" in literal(r)
                for r in as_list(statement["Resource"])
            )
        if actions & {"glue:CreateTable", "glue:DeleteTable", "glue:UpdateTable"}:
            assert all(
                "${AnalyticsDatabase}" in literal(r) or literal(r).endswith(":catalog")
                for r in as_list(statement["Resource"])
            )
    # The scheduled run lists events/ and arrivals/ (vanished manifests) and reads manifests.
    (listing,) = [s for s in statements if "s3:ListBucket" in as_list(s["Action"])]
    assert {"events/*", "arrivals/*"} <= set(listing["Condition"]["StringLike"]["s3:prefix"])
    readable = {
        p for s in statements if "s3:GetObject" in as_list(s["Action"]) for p in s3_paths(s)
    }
    assert {"events/*", "arrivals/*"} <= readable


def test_compaction_role_reads_writes_and_deletes_only_under_events_and_its_leases(
    template: dict[str, Any],
) -> None:
    assert trusted_service(template, "CompactionTaskRole") == "ecs-tasks.amazonaws.com"
    statements = role_statements(template, "CompactionTaskRole")
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert actions == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
    }
    written = set()
    for statement in statements:
        if statement["Action"] == "s3:ListBucket":
            assert s3_paths(statement) == {""}
            prefixes = ["events/*", "compaction/*"]
            assert statement["Condition"] == {"StringLike": {"s3:prefix": prefixes}}
        else:
            written |= s3_paths(statement)
            if s3_paths(statement) == {"compaction/*"}:  # the hour leases: no multipart
                assert set(as_list(statement["Action"])) == {
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                }
    assert written == {"events/*", "compaction/*"}


@pytest.mark.parametrize(
    ("role", "repository", "log_group"),
    [
        ("ConsumerExecutionRole", "EcrRepositoryName", "ConsumerLogGroup"),
        ("DbtExecutionRole", "DbtEcrRepositoryName", "DbtLogGroup"),
        ("CompactionExecutionRole", "DbtEcrRepositoryName", "CompactionLogGroup"),
    ],
)
def test_execution_roles_pull_one_repository_and_write_one_log_group(
    template: dict[str, Any], role: str, repository: str, log_group: str
) -> None:
    assert trusted_service(template, role) == "ecs-tasks.amazonaws.com"
    for statement in role_statements(template, role):
        actions = set(as_list(statement["Action"]))
        arns = [literal(r) for r in as_list(statement["Resource"])]
        if actions == {"ecr:GetAuthorizationToken"}:
            continue
        if any(a.startswith("ecr:") for a in actions):
            assert arns == [
                "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}"
                f":repository/${{{repository}}}"
            ]
        elif any(a.startswith("logs:") for a in actions):
            assert arns == [f"${{{log_group}.Arn}}"]
        else:
            assert role == "ConsumerExecutionRole", (role, actions)  # the API URL secret


def test_a_failed_scheduled_run_raises_an_alarm(template: dict[str, Any]) -> None:
    (rule,) = resources(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ecs"] and pattern["detail-type"] == ["ECS Task State Change"]
    detail = pattern["detail"]
    assert detail["clusterArn"] == [{"Fn::GetAtt": ["Cluster", "Arn"]}]
    assert detail["lastStatus"] == ["STOPPED"]
    assert detail["group"] == [
        {"Fn::Sub": "family:${Prefix}-dbt"},
        {"Fn::Sub": "family:${Prefix}-compact"},
    ]
    # A non-zero exit, or a task that never started (image pull, no capacity).
    assert detail["$or"] == [
        {"containers": {"exitCode": [{"anything-but": 0}]}},
        {"stopCode": ["TaskFailedToStart"]},
    ]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "AlarmTopic"}
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]
    publishers = {
        s["Principal"]["Service"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert set(publishers) == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    rule_name = next(iter(resources(template, "AWS::Events::Rule")))
    assert publishers["events.amazonaws.com"]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_name, "Arn"]}}
    }
    for statement in publishers.values():
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == {"Ref": "AlarmTopic"}
    alarm = template["Resources"]["ScheduleDeliveryFailuresAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_events_retention_is_off_by_default_and_expires_every_personal_prefix(
    template: dict[str, Any],
) -> None:
    """EventsRetentionDays (docs/operations.md, Retention): 0 keeps everything; N > 0
    expires events/, the CRM snapshots and the analytics tables after N days, and the
    archives and failed stores already expire by their own parameters."""
    parameter = template["Parameters"]["EventsRetentionDays"]
    assert parameter["Default"] == 0 and parameter["MinValue"] == 0
    assert template["Conditions"]["HasEventsRetention"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "EventsRetentionDays"}, 0]}]
    }
    rules = template["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    conditional = {}
    for rule in rules:
        if "Fn::If" in rule:
            condition, when_set, when_unset = rule["Fn::If"]
            assert condition == "HasEventsRetention"
            assert when_unset == {"Ref": "AWS::NoValue"}
            conditional[when_set["Prefix"]] = when_set
    personal = (f"{layout.EVENTS}/", f"{layout.CRM_SNAPSHOTS}/", f"{layout.DBT}/")
    assert sorted(conditional) == sorted(personal)
    for rule in conditional.values():
        assert rule["Status"] == "Enabled"
        assert rule["ExpirationInDays"] == {"Ref": "EventsRetentionDays"}
    always = {r["Prefix"] for r in rules if "Fn::If" not in r and "ExpirationInDays" in r}
    assert {f"{p}/" for p in (*layout.FAILED_STORES, layout.RAW, layout.EXTRA_COLUMNS)} <= always
