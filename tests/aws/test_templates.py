"""The CloudFormation templates: clean under cfn-lint, and naming what the code expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file

from api.routes import health
from core.settings import Settings
from core.store import dynamodb
from tests.aws.moto import ROOT, load_template

INFRA = ROOT / "infra"
DATA = load_template(INFRA / "data.yaml")
SERVICE = load_template(INFRA / "service.yaml")
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
# The only actions the service template may grant on every resource: AWS offers no resource-level permission.
WITHOUT_RESOURCE_LEVEL = {
    "ecs:RunTask",
    "ecs:StopTask",
    "ecs:DescribeTasks",
    "ecs:TagResource",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == kind}


def _containers() -> dict[str, dict[str, Any]]:
    return {
        name: props["ContainerDefinitions"][0]
        for name, props in _resources(SERVICE, "AWS::ECS::TaskDefinition").items()
    }


def _statements() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for role, props in _resources(SERVICE, "AWS::IAM::Role").items():
        for policy in props.get("Policies", []):
            for statement in policy.get("PolicyDocument", {}).get("Statement", []):
                found.append((role, statement))
    return found


@pytest.mark.parametrize("template", sorted(INFRA.glob("*.yaml")), ids=lambda p: p.name)
def test_templates_are_clean_under_cfn_lint(template: Path) -> None:
    assert [str(m) for m in lint_file(template)] == []


class TestDataTemplate:
    def test_the_table_has_the_indexes_and_ttl_the_dynamodb_store_queries(self) -> None:
        table = _resources(DATA, "AWS::DynamoDB::Table")["RecordTable"]
        indexes = {
            i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]
        }
        assert indexes == {
            dynamodb.DUE_INDEX: ["due_shard", "due_at"],
            dynamodb.RECENT_INDEX: ["ok_shard", "ok_at"],
            dynamodb.BY_REPO_INDEX: ["repo_key", "pk"],
        }
        assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
        assert table["TimeToLiveSpecification"] == {"AttributeName": dynamodb.TTL_ATTRIBUTE, "Enabled": True}

    def test_queue_defaults_are_the_settings_defaults(self) -> None:
        parameters = DATA["Parameters"]
        assert parameters["VisibilityTimeoutSeconds"]["Default"] == Settings().queue_visibility_timeout_s
        assert parameters["MaxReceiveCount"]["Default"] == Settings().queue_max_deliveries
        queue = _resources(DATA, "AWS::SQS::Queue")["DiscoveredQueue"]
        assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}

    def test_the_topic_delivers_its_envelope_to_the_queue_and_nobody_else_may_send(self) -> None:
        subscription = _resources(DATA, "AWS::SNS::Subscription")["DiscoveredSubscription"]
        # The consumer checks the envelope's TopicArn: raw delivery would drop it.
        assert subscription["RawMessageDelivery"] is False
        assert subscription["Endpoint"] == {"Fn::GetAtt": ["DiscoveredQueue", "Arn"]}
        (statement,) = _resources(DATA, "AWS::SQS::QueuePolicy")["DiscoveredQueuePolicy"]["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Ref": "DiscoveredTopic"}

    def test_the_bucket_is_private(self) -> None:
        bucket = _resources(DATA, "AWS::S3::Bucket")["ArtifactBucket"]
        assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(bucket["PublicAccessBlockConfiguration"]) == 4

    @pytest.mark.parametrize(
        ("output", "variable"),
        [
            pytest.param("Store", "CHANGELOGS_STORE", id="store"),
            pytest.param("Artifacts", "CHANGELOGS_ARTIFACTS", id="artifacts"),
            pytest.param("Queue", "CHANGELOGS_QUEUE", id="queue"),
            pytest.param("Topic", "CHANGELOGS_TOPIC", id="topic"),
            pytest.param("QueueVisibilityTimeoutS", "CHANGELOGS_QUEUE_VISIBILITY_TIMEOUT_S", id="visibility"),
            pytest.param("QueueMaxDeliveries", "CHANGELOGS_QUEUE_MAX_DELIVERIES", id="deliveries"),
        ],
    )
    def test_setting_outputs_name_real_settings(self, output: str, variable: str) -> None:
        assert DATA["Outputs"][output]["Description"] == variable
        assert variable.removeprefix("CHANGELOGS_").lower() in Settings.model_fields


class TestServiceTemplate:
    def test_every_environment_variable_is_a_setting_or_prefects(self) -> None:
        aliases = {"REDIS_URL", "GITHUB_TOKEN"}
        for name, container in _containers().items():
            variables = [e["Name"] for e in container.get("Environment", [])]
            variables += [s["Name"] for s in _secrets(container)]
            for variable in variables:
                known = variable in aliases or variable.startswith("PREFECT_")
                known = known or variable.removeprefix("CHANGELOGS_").lower() in Settings.model_fields
                assert known, f"{name}: {variable} is not a setting"

    def test_the_github_token_comes_from_secrets_manager_into_flow_runs_only(self) -> None:
        holders = {name for name, c in _containers().items() if any(s["Name"] == "GITHUB_TOKEN" for s in _secrets(c))}
        assert holders == {"FlowRunTaskDefinition"}
        assert all(e["Name"] != "GITHUB_TOKEN" for c in _containers().values() for e in c.get("Environment", []))

    def test_redis_is_elasticache_over_tls(self) -> None:
        redis = _resources(SERVICE, "AWS::ElastiCache::ReplicationGroup")["Redis"]
        assert redis["TransitEncryptionEnabled"] is True
        for name, container in _containers().items():
            urls = [e["Value"] for e in container.get("Environment", []) if e["Name"] == "REDIS_URL"]
            if name != "WorkerTaskDefinition":
                assert urls and urls[0]["Fn::Sub"].startswith("rediss://${Redis.PrimaryEndPoint.Address}")

    def test_services_run_the_api_twice_or_more_one_follower_and_a_prefect_ecs_worker(self) -> None:
        services = _resources(SERVICE, "AWS::ECS::Service")
        assert SERVICE["Parameters"]["ApiDesiredCount"]["MinValue"] >= 2
        assert services["ApiService"]["DesiredCount"] == {"Ref": "ApiDesiredCount"}
        assert services["FollowerService"]["DesiredCount"] == 1
        # Never two followers at once, even during a deployment.
        assert services["FollowerService"]["DeploymentConfiguration"]["MaximumPercent"] == 100
        worker = _containers()["WorkerTaskDefinition"]["Command"]
        assert worker[:3] == ["prefect", "worker", "start"]
        assert worker[worker.index("--type") + 1] == "ecs"

    def test_the_load_balancer_checks_the_apis_health_route(self) -> None:
        (targets,) = _resources(SERVICE, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
        assert targets["HealthCheckPath"] in {getattr(r, "path", None) for r in health.router.routes}

    def test_every_task_logs_to_its_own_log_group_of_this_template(self) -> None:
        groups = set(_resources(SERVICE, "AWS::Logs::LogGroup"))
        used = [c["LogConfiguration"]["Options"]["awslogs-group"]["Ref"] for c in _containers().values()]
        assert len(used) == len(set(used)) and set(used) <= groups

    def test_each_service_has_its_own_task_role(self) -> None:
        roles = [
            props["TaskRoleArn"]["Fn::GetAtt"][0] for props in _resources(SERVICE, "AWS::ECS::TaskDefinition").values()
        ]
        assert len(roles) == len(set(roles))

    def test_the_api_and_the_follower_cannot_do_what_only_the_crawler_does(self) -> None:
        granted: dict[str, set[str]] = {}
        for role, statement in _statements():
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            granted.setdefault(role, set()).update(actions)
        writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "s3:PutObject", "s3:DeleteObject"}
        assert not granted["ApiTaskRole"] & (writes | {"sns:Publish", "sqs:ReceiveMessage", "sqs:DeleteMessage"})
        assert not granted["FollowerTaskRole"] & {"s3:PutObject", "sqs:ReceiveMessage", "dynamodb:Scan"}
        assert "sqs:DeleteMessage" in granted["FlowRunTaskRole"]

    def test_roles_grant_no_wildcard_actions_and_every_resource_only_where_aws_allows_nothing_narrower(self) -> None:
        for role, statement in _statements():
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), role
            if statement["Resource"] == "*":
                assert set(actions) <= WITHOUT_RESOURCE_LEVEL, (role, actions)

    def test_cloudfront_serves_the_bucket_by_default_and_the_api_paths_from_the_load_balancer(self) -> None:
        config = _resources(SERVICE, "AWS::CloudFront::Distribution")["Distribution"]["DistributionConfig"]
        origins = {o["Id"]: o for o in config["Origins"]}
        (group,) = config["OriginGroups"]["Items"]
        members = [m["OriginId"] for m in group["Members"]["Items"]]
        assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"]
        assert "S3OriginConfig" in origins[members[0]] and "OriginAccessControlId" in origins[members[0]]
        assert origins[members[1]]["DomainName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
        behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
        for pattern in ("/api*", "/search*", "/github*", "/socket.io*"):
            assert behaviours[pattern]["TargetOriginId"] == members[1], pattern
        live = behaviours["/socket.io*"]
        assert live["CachePolicyId"] == CACHING_DISABLED
        assert live["OriginRequestPolicyId"] == ALL_VIEWER  # Upgrade and Sec-WebSocket-* reach the api

    def test_only_this_distribution_may_read_the_bucket(self) -> None:
        policy = _resources(SERVICE, "AWS::S3::BucketPolicy")["ArtifactBucketPolicy"]["PolicyDocument"]
        (statement,) = policy["Statement"]
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert statement["Action"] == "s3:GetObject"
        assert "${Distribution}" in statement["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]


def _secrets(container: dict[str, Any]) -> list[dict[str, Any]]:
    # Secrets may be chosen by a condition: every branch counts.
    secrets = container.get("Secrets", [])
    if isinstance(secrets, dict) and "Fn::If" in secrets:
        return [s for branch in secrets["Fn::If"][1:] if isinstance(branch, list) for s in branch]
    return list(secrets)
