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
from cfnlint.decode import decode

from weblogs.core import layout
from weblogs.core.contract import ARROW_SCHEMA, PARTITION_COLUMNS
from weblogs.core.layout import event_key

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "template.yaml"
# Actions IAM cannot scope to a resource; the only ones allowed on "*".
RESOURCE_LESS_ACTIONS = {"ecr:GetAuthorizationToken"}
LAKE_PREFIXES = {*layout.PREFIXES, *layout.DEPLOY_PREFIXES}
GLUE_TYPES = {pa.string(): "string", pa.bool_(): "boolean", pa.timestamp("ms"): "timestamp"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
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
    assert f"{layout.EVENTS}/" not in prefixes  # the lake itself is never expired
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
    assert len(groups) == 3
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
    assert set(env) >= {
        "API_URL",
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
    assert ours["ReadonlyRootFilesystem"] == theirs["readonlyRootFilesystem"]
